import Logging
import ProxyModel

/// Says where NodePorts are served when a Node update moves them: with `primary`, the rule modes
/// follow the Node's primary addresses at each sync, and an operator should see it happen.
struct NodePortAddressLog: SyncObserver {
    let config: ProxyConfig
    /// The node the start-up log described, for the first sync.
    let startNode: NodeInfo
    let families: [IPAddress.Family]
    let logger: Logger

    func synced(_ sync: CompletedSync) async {
        if let line = change(from: sync.previous?.node ?? startNode, to: sync.snapshot.node) { logger.info("\(line)") }
    }

    /// The log line when the served addresses differ between the two nodes, else nil.
    func change(from old: NodeInfo, to new: NodeInfo) -> String? {
        guard config.servesNodePortsOnPrimary else { return nil }
        let now = config.nodePortAddressesDescription(node: new, families: families)
        return now == config.nodePortAddressesDescription(node: old, families: families) ? nil : "NodePorts are now served on \(now)"
    }
}
