import Conntrack
import Dispatch
import Logging
import ProxyModel
import Synchronization

/// After a rule backend programmed a sync: kube-proxy's conntrack reconciler. Every sync (the first
/// after a start too) streams the UDP entries of each family and deletes those addressed to a UDP
/// Service frontend whose reply does not come from a serving endpoint (`StaleFlowPolicy`). The
/// userspace proxy needs none of this: its flows are its own sockets.
///
/// The netlink I/O blocks, so it runs on a serial dispatch queue of its own (never on Swift's
/// cooperative pool), awaited through a continuation. A cleanup stops deleting at its deadline.
/// Overlapping calls coalesce: while one cleanup runs, later snapshots replace each other as the
/// pending one, and the running caller cleans against the latest when it is done; the others return
/// at once.
final class ConntrackCleaner: SyncObserver {
    private let conntrack: Conntrack
    private let metrics: SyncMetrics?
    private let logger: Logger
    private let deadline: Duration
    private let families: [IPAddress.Family]
    private let queue = DispatchQueue(label: "swift-kube-proxy.conntrack")
    private let coalescing = Mutex(Coalescing())

    private struct Coalescing {
        var running = false
        var pending: ProxySnapshot?
        /// Cleanups that ran (for tests and logs).
        var runs = 0
        var skipped = 0
    }

    static let defaultDeadline: Duration = .seconds(10)

    init(conntrack: Conntrack, metrics: SyncMetrics?, logger: Logger, deadline: Duration = defaultDeadline,
         families: [IPAddress.Family] = [.ipv4, .ipv6]) {
        self.conntrack = conntrack
        self.metrics = metrics
        self.logger = logger
        self.deadline = deadline
        self.families = families
    }

    /// Cleanups run so far, and calls coalesced into a running one.
    var counts: (runs: Int, coalesced: Int) { coalescing.withLock { ($0.runs, $0.skipped) } }

    func synced(_ sync: CompletedSync) async {
        let first = coalescing.withLock { state -> Bool in
            if state.running {
                state.pending = sync.snapshot
                state.skipped += 1
                return false
            }
            state.running = true
            return true
        }
        guard first else { return }
        var snapshot = sync.snapshot
        while true {
            let reports = await clean(snapshot)
            record(reports)
            let next = coalescing.withLock { state -> ProxySnapshot? in
                state.runs += 1
                guard let pending = state.pending else {
                    state.running = false
                    return nil
                }
                state.pending = nil
                return pending
            }
            guard let next else { return }
            snapshot = next
        }
    }

    /// One cleanup of every family against `snapshot`, on the cleaner's queue.
    func clean(_ snapshot: ProxySnapshot) async -> [ConntrackCleanupReport] {
        await withCheckedContinuation { (continuation: CheckedContinuation<[ConntrackCleanupReport], Never>) in
            queue.async { [conntrack, families, deadline] in
                let end = ContinuousClock.now + deadline
                continuation.resume(returning: families.map {
                    ConntrackCleanupReport.run(conntrack, policy: StaleFlowPolicy(snapshot: snapshot, family: $0), deadline: end)
                })
            }
        }
    }

    private func record(_ reports: [ConntrackCleanupReport]) {
        for report in reports {
            let family = report.family == .ipv4 ? "IPv4" : "IPv6"
            metrics?.conntrackReconciled(family: family, seconds: report.seconds, deleted: report.deleted.deleted)
            if let error = report.error {
                logger.error("conntrack cleanup failed", metadata: ["ipFamily": "\(family)", "error": "\(error)"])
            }
            if report.deleted.notAttempted > 0 {
                metrics?.conntrackDeadlineExceeded()
                logger.warning("conntrack cleanup stopped at its deadline; the rest waits for the next sync", metadata: [
                    "ipFamily": "\(family)", "deadline": "\(deadline)", "scanned": "\(report.scanned)",
                    "stale": "\(report.stale)", "deleted": "\(report.deleted.deleted)", "left": "\(report.deleted.notAttempted)",
                ])
            } else if report.stale > 0 || report.restarts > 0 || report.interrupted {
                logger.debug("reconciled conntrack entries", metadata: [
                    "ipFamily": "\(family)", "scanned": "\(report.scanned)", "deleted": "\(report.deleted.deleted)",
                    "alreadyGone": "\(report.deleted.gone)", "dumpRestarts": "\(report.restarts)",
                    "interrupted": "\(report.interrupted)", "seconds": "\(report.seconds)",
                ])
            }
        }
    }

    // Kept for callers of the former diff-based cleanup's helper (the ProxyDaemon tests use it).
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

/// One family's cleanup: what was scanned, found stale and deleted, and how long it took.
struct ConntrackCleanupReport: Sendable {
    var family: IPAddress.Family
    var scanned = 0
    var stale = 0
    var deleted = DeleteResult()
    var restarts = 0
    var interrupted = false
    var seconds = 0.0
    /// Of which the dump (with the decisions).
    var dumpSeconds = 0.0
    var error: ConntrackError?

    /// Blocking: dump with the policy deciding on each entry as it arrives, then delete the stale
    /// ones until `deadline`. At least one batch is always sent, so a table whose dump alone outlasts
    /// the deadline still makes progress. A family with nothing to reconcile is not dumped at all.
    static func run(_ conntrack: Conntrack, policy: StaleFlowPolicy, deadline: ContinuousClock.Instant) -> ConntrackCleanupReport {
        let start = ContinuousClock.now
        var report = ConntrackCleanupReport(family: policy.family)
        if !policy.isEmpty { report.reconcile(conntrack, policy: policy, deadline: deadline) }
        report.seconds = seconds(ContinuousClock.now - start)
        return report
    }

    private mutating func reconcile(_ conntrack: Conntrack, policy: StaleFlowPolicy, deadline: ContinuousClock.Instant) {
        do {
            let dumpStart = ContinuousClock.now
            let dump = try conntrack.dump(family: policy.family) { policy.decide($0) == .delete }
            dumpSeconds = Self.seconds(ContinuousClock.now - dumpStart)
            scanned = dump.scanned
            stale = dump.kept.count
            restarts = dump.restarts
            interrupted = dump.interrupted
            let first = dump.kept.prefix(Conntrack.deleteBatchSize)
            deleted = try conntrack.delete(first)
            if dump.kept.count > first.count {
                deleted.add(try conntrack.delete(dump.kept.dropFirst(first.count), deadline: deadline))
            }
            error = deleted.firstError
        } catch {
            self.error = error
        }
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
