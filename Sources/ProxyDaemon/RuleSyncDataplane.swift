import Dispatch
import Logging
import ProxyModel
import RuleSync

/// A rule backend (iptables, nftables) as a dataplane. Its syncs block on the kernel or on
/// `iptables-restore`, so they run on a dispatch thread, never on the cooperative pool.
final class RuleSyncDataplane: Dataplane {
    let name: String
    let backend: any RuleSyncBackend
    private let logger: Logger
    private let queue: DispatchQueue
    private let metrics: SyncMetrics?
    private let skippedMetrics: SkippedServicePortMetrics?
    private let iptablesMetrics: IPTablesMetrics?
    /// Rules NAT in the kernel: removed endpoints leave conntrack entries to delete after a sync.
    var natsInKernel: Bool { true }
    let fullSyncPeriod: Duration?

    init(name: String, backend: any RuleSyncBackend, fullSyncPeriod: Duration? = nil, metrics: SyncMetrics? = nil, logger: Logger) {
        self.name = name
        self.backend = backend
        self.fullSyncPeriod = fullSyncPeriod
        self.metrics = metrics
        skippedMetrics = metrics.map { SkippedServicePortMetrics(registry: $0.registry, backend: name) }
        iptablesMetrics = backend is IPTablesBackend ? metrics.map { IPTablesMetrics(registry: $0.registry) } : nil
        self.logger = logger
        queue = DispatchQueue(label: "swift-kube-proxy.\(name)-sync")
    }

    func apply(_ snapshot: ProxySnapshot, diff: SnapshotDiff, full: Bool) async throws {
        let backend = self.backend
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Result<SyncReport, any Error>, Never>) in
            queue.async {
                continuation.resume(returning: Result { try backend.sync(snapshot, changes: full ? nil : diff) })
            }
        }
        if case .failure = outcome, let iptables = backend as? IPTablesBackend {
            iptablesMetrics?.partialRestoreFailuresTotal(iptables.partialRestoreFailures)
        }
        let report = try outcome.get()
        iptablesMetrics?.recorded(report)
        metrics?.rulesInstalled(report.totalRules, dataplane: name)
        // One Service port the backend cannot program is left out, not the whole sync: say which.
        for skip in report.skipped {
            logger.error("service port skipped: the backend cannot program its rules",
                         metadata: ["dataplane": "\(name)", "servicePort": "\(skip.name)", "family": "\(skip.family)",
                                    "reason": "\(skip.reason)"])
        }
        skippedMetrics?.skipped(report.skipped.count)
        logger.debug("rules written", metadata: ["dataplane": "\(name)", "full": "\(report.full)", "rules": "\(report.rulesWritten)",
                                                 "bytes": "\(report.bytesWritten)", "noLocalEndpoints": "\(report.noLocalEndpoints)"])
    }
}

extension ProxyConfig {
    /// The settings every rule backend shares.
    var ruleSyncConfig: RuleSyncConfig {
        var c = RuleSyncConfig(clusterCIDRs: clusterCIDRs, masqueradeAll: masqueradeAll, nodePortAddresses: nodePortAddresses,
                               masqueradeBit: masqueradeBit, endpointPick: endpointPick == .random ? .random : .roundRobin,
                               localhostNodePorts: mode == .iptables && localhostNodePorts)
        c.serviceCIDRs = serviceCIDRs
        c.nodePortAddressesPrimary = servesNodePortsOnPrimary
        c.nodeIPOverride = nodeIPOverride
        return c
    }

    var ipTablesVariantChoice: IPTablesVariantChoice {
        switch iptablesVariant {
        case .auto: return .auto
        case .nft: return .nft
        case .legacy: return .legacy
        }
    }
}
