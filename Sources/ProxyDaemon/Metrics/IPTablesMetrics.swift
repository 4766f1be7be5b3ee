import Prometheus
import RuleSync
import Synchronization

/// kube-proxy's iptables-mode metrics, with its names and labels (`pkg/proxy/metrics`):
/// `kubeproxy_sync_proxy_rules_iptables_last{table}` (rules written by the last sync),
/// `kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total`, and
/// `kubeproxy_iptables_ct_state_invalid_dropped_packets_total`. The backend reports cumulative
/// counts; this turns them into counter increments.
final class IPTablesMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let partialRestoreFailures: Counter
    private let invalidDropped: Counter
    private let seen = Mutex((partialFailures: 0, invalidDropped: 0))

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        partialRestoreFailures = registry.makeCounter(
            descriptor: metric("kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total",
                               "Cumulative proxy iptables partial restore failures"))
        invalidDropped = registry.makeCounter(
            descriptor: metric("kubeproxy_iptables_ct_state_invalid_dropped_packets_total",
                               "packets dropped by iptables to work around conntrack problems"))
    }

    /// A sync succeeded: rules it wrote per table, and the backend's running counts.
    func recorded(_ report: SyncReport) {
        let d = metric("kubeproxy_sync_proxy_rules_iptables_last", "Number of iptables rules written by kube-proxy in last sync")
        for table in ["filter", "nat"] {
            registry.makeGauge(descriptor: d, labels: [("table", table)]).set(to: Double(report.rulesWrittenByTable[table] ?? 0))
        }
        partialRestoreFailuresTotal(report.partialRestoreFailures)
        if let n = report.invalidDroppedPackets {
            let delta = seen.withLock { s -> Int in
                defer { s.invalidDropped = max(s.invalidDropped, n) }
                return n - s.invalidDropped
            }
            if delta > 0 { invalidDropped.increment(by: Int64(delta)) }
        }
    }

    /// The backend's count of failed partial restores, also after a sync that threw.
    func partialRestoreFailuresTotal(_ total: Int) {
        let delta = seen.withLock { s -> Int in
            defer { s.partialFailures = max(s.partialFailures, total) }
            return total - s.partialFailures
        }
        if delta > 0 { partialRestoreFailures.increment(by: Int64(delta)) }
    }
}
