import Conntrack
import Logging
import ProxyModel

/// After a rule backend programmed a sync: deletes the conntrack entries that would keep UDP/SCTP
/// clients on endpoints that are gone, or on Service addresses whose state changed (kube-proxy's
/// conntrack cleanup). The userspace proxy needs none of this: its flows are its own sockets.
final class ConntrackCleaner: SyncObserver {
    private let conntrack: Conntrack
    private let metrics: SyncMetrics?
    private let logger: Logger

    init(conntrack: Conntrack, metrics: SyncMetrics?, logger: Logger) {
        self.conntrack = conntrack
        self.metrics = metrics
        self.logger = logger
    }

    func synced(_ sync: CompletedSync) async {
        // The first sync has nothing to compare with: flows from before a restart are left as they are.
        guard let previous = sync.previous else { return }
        let filters = Self.filters(for: sync.diff.staleFlows(from: previous, to: sync.snapshot))
        guard !filters.isEmpty else { return }
        do {
            let deleted = try conntrack.delete(matching: filters)
            metrics?.conntrackEntriesDeleted(deleted)
            logger.debug("deleted stale conntrack entries", metadata: ["count": "\(deleted)", "filters": "\(filters)"])
        } catch {
            logger.error("conntrack cleanup failed", metadata: ["error": "\(error)"])
        }
    }

    static func filters(for flows: [StaleFlow]) -> [ConntrackFilter] {
        var result: [ConntrackFilter] = []
        for flow in flows {
            guard let proto = ConntrackProtocol(flow.protocol), proto != .tcp else { continue }
            switch flow.target {
            case let .serviceAddress(ip, port):
                result.append(.originalDestination(ip, port: UInt16(port), proto))
            case let .endpoint(_, endpoint):
                result.append(.natedTo(endpoint.address, port: UInt16(endpoint.port), proto))
            }
        }
        return Array(Set(result)).sorted { $0.description < $1.description }
    }
}
