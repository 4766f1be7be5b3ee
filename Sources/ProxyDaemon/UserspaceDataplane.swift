import Logging
import ProxyModel
import UserspaceProxy

/// The userspace proxy as a dataplane: each sync hands it the complete rule list (it diffs
/// listeners and swaps endpoint lists itself, so a full and an incremental sync are the same call).
final class UserspaceDataplane: Dataplane {
    let name = "userspace"
    let proxy: UserspaceProxy
    private let nodePortCIDRs: [CIDR]
    private let logger: Logger

    init(proxy: UserspaceProxy, nodePortAddresses: [CIDR], logger: Logger) {
        self.proxy = proxy
        nodePortCIDRs = nodePortAddresses
        self.logger = logger
    }

    func apply(_ snapshot: ProxySnapshot, diff: SnapshotDiff, full: Bool) async throws {
        // Node addresses are read on every sync: an address added to the node starts serving NodePorts
        // by the next periodic resync at the latest.
        let addresses = NodePortAddresses.select(nodePortCIDRs, from: LocalAddresses.current())
        let rules = UserspaceRules.rules(for: snapshot, nodePortAddresses: addresses)
        // A port another process holds is logged, not retried at once: the next full resync tries again.
        for failure in proxy.apply(rules) {
            logger.error("\(failure)")
        }
    }
}
