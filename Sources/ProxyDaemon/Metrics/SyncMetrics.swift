import Prometheus
import ProxyModel

/// kube-proxy's sync metrics (pkg/proxy/metrics), with its names, types, labels and buckets, so
/// existing dashboards and alerts keep working. Upstream runs one proxier per IP family and labels
/// most series `ip_family="IPv4"|"IPv6"`; one of our syncs programs every family of the node at
/// once, so each family's series records that sync (docs/metrics.md).
public final class SyncMetrics: Sendable {
    /// kube-proxy's `prometheus.ExponentialBuckets(0.001, 2, 15)`: 1 ms … 16.384 s.
    static let syncBuckets: [Double] = (0..<15).map { 0.001 * Double(1 << $0) }
    /// kube-proxy's network programming buckets: 0.25, 0.5, 1…59, 60…115 by 5, 120…300 by 30 (seconds).
    static let networkProgrammingBuckets: [Double] =
        [0.25, 0.5] + (1...59).map(Double.init) + stride(from: 60.0, through: 115, by: 5) + stride(from: 120.0, through: 300, by: 30)

    /// The families this node programs, in label order.
    let families: [IPAddress.Family]
    private let perFamily: [IPAddress.Family: FamilySeries]
    private let endpointChangesPending, serviceChangesPending: Gauge
    private let endpointChangesTotal, serviceChangesTotal: Counter
    private let userspaceRedirectFailures: Counter
    private let conntrackDeadlines: Counter
    let registry: PrometheusCollectorRegistry

    /// The series upstream keeps per proxier, hence per family.
    private struct FamilySeries: Sendable {
        let duration, fullDuration, partialDuration, networkProgramming, conntrackDuration: ValueHistogram
        let lastTimestamp, lastQueuedTimestamp, noLocalInternal, noLocalExternal: Gauge
        let iptablesRestoreFailures, nftablesSyncFailures, nftablesCleanupFailures, conntrackDeleted: Counter

        init(_ registry: PrometheusCollectorRegistry, family: IPAddress.Family) {
            let label = [("ip_family", family.label)]
            func histogram(_ name: String, _ help: String, _ buckets: [Double] = SyncMetrics.syncBuckets) -> ValueHistogram {
                registry.makeValueHistogram(descriptor: metric(name, help), labels: label, buckets: buckets)
            }
            func counter(_ name: String, _ help: String) -> Counter { registry.makeCounter(descriptor: metric(name, help), labels: label) }
            duration = histogram("kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds")
            fullDuration = histogram("kubeproxy_sync_full_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for full resyncs")
            partialDuration = histogram("kubeproxy_sync_partial_proxy_rules_duration_seconds",
                                        "SyncProxyRules latency in seconds for partial resyncs")
            networkProgramming = histogram("kubeproxy_network_programming_duration_seconds", "In Cluster Network Programming Latency in seconds",
                                           SyncMetrics.networkProgrammingBuckets)
            conntrackDuration = histogram("kubeproxy_conntrack_reconciler_sync_duration_seconds", "ReconcileConntrackFlowsLatency latency in seconds")
            lastTimestamp = registry.makeGauge(
                descriptor: metric("kubeproxy_sync_proxy_rules_last_timestamp_seconds", "The last time proxy rules were successfully synced"),
                labels: label)
            lastQueuedTimestamp = registry.makeGauge(
                descriptor: metric("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", "The last time a sync of proxy rules was queued"),
                labels: label)
            let noLocal = metric("kubeproxy_sync_proxy_rules_no_local_endpoints_total", "Number of services with a Local traffic policy and no endpoints")
            noLocalInternal = registry.makeGauge(descriptor: noLocal, labels: label + [("traffic_policy", "internal")])
            noLocalExternal = registry.makeGauge(descriptor: noLocal, labels: label + [("traffic_policy", "external")])
            iptablesRestoreFailures = counter("kubeproxy_sync_proxy_rules_iptables_restore_failures_total", "Cumulative proxy iptables restore failures")
            nftablesSyncFailures = counter("kubeproxy_sync_proxy_rules_nftables_sync_failures_total", "Cumulative proxy nftables sync failures")
            // Stays 0: our nftables backend deletes stale chains and sets in the sync's own transaction, so a
            // failed deletion fails that sync (nftables_sync_failures_total); upstream deletes them later, apart.
            nftablesCleanupFailures = counter("kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total", "Cumulative proxy nftables cleanup failures")
            conntrackDeleted = counter("kubeproxy_conntrack_reconciler_deleted_entries_total", "Cumulative conntrack flows deleted by conntrack reconciler")
        }
    }

    init(registry: PrometheusCollectorRegistry, families: [IPAddress.Family] = [.ipv4, .ipv6]) {
        self.registry = registry
        self.families = families
        perFamily = Dictionary(uniqueKeysWithValues: families.map { ($0, FamilySeries(registry, family: $0)) })
        // Upstream's change trackers are shared by both families' proxiers: no ip_family here.
        endpointChangesPending = registry.makeGauge(
            descriptor: metric("kubeproxy_sync_proxy_rules_endpoint_changes_pending", "Pending proxy rules Endpoint changes"))
        serviceChangesPending = registry.makeGauge(
            descriptor: metric("kubeproxy_sync_proxy_rules_service_changes_pending", "Pending proxy rules Service changes"))
        endpointChangesTotal = registry.makeCounter(
            descriptor: metric("kubeproxy_sync_proxy_rules_endpoint_changes_total", "Cumulative proxy rules Endpoint changes"))
        serviceChangesTotal = registry.makeCounter(
            descriptor: metric("kubeproxy_sync_proxy_rules_service_changes_total", "Cumulative proxy rules Service changes"))
        userspaceRedirectFailures = registry.makeCounter(
            descriptor: metric("swift_kube_proxy_userspace_redirect_failures_total",
                               "Cumulative userspace-mode syncs whose nftables redirects could not be applied"))
        conntrackDeadlines = registry.makeCounter(
            descriptor: metric("swift_kube_proxy_conntrack_cleanup_deadline_exceeded_total",
                               "Conntrack cleanups that stopped deleting at their deadline (the rest waits for the next sync)"))
    }

    private func each(_ body: (FamilySeries) -> Void) {
        for family in families { if let series = perFamily[family] { body(series) } }
    }

    /// A source recorded changes that wait for the next sync (wall-clock seconds).
    func changesQueued(pending: (services: Int, endpoints: Int), at now: Double) {
        each { $0.lastQueuedTimestamp.set(to: now) }
        serviceChangesPending.set(to: Double(pending.services))
        endpointChangesPending.set(to: Double(pending.endpoints))
    }

    /// The runner took the pending changes into a snapshot.
    func changesTaken(pending: (services: Int, endpoints: Int)) {
        serviceChangesTotal.increment(by: Int64(pending.services))
        endpointChangesTotal.increment(by: Int64(pending.endpoints))
        serviceChangesPending.set(to: 0)
        endpointChangesPending.set(to: 0)
    }

    /// One sync ran, whether it succeeded or not (kube-proxy observes the latency of both).
    func syncRan(seconds: Double, full: Bool) {
        each { series in
            series.duration.record(seconds)
            (full ? series.fullDuration : series.partialDuration).record(seconds)
        }
    }

    /// A sync succeeded at `now`: the changes behind `triggerTimes` are programmed.
    func syncSucceeded(at now: Double, triggerTimes: [Double], snapshot: ProxySnapshot) {
        let counts = NoLocalEndpoints.count(in: snapshot)
        each { series in
            series.lastTimestamp.set(to: now)
            for trigger in triggerTimes where now >= trigger { series.networkProgramming.record(now - trigger) }
        }
        for family in families {
            perFamily[family]?.noLocalInternal.set(to: Double(counts[family]?.internal ?? 0))
            perFamily[family]?.noLocalExternal.set(to: Double(counts[family]?.external ?? 0))
        }
    }

    func syncFailed(dataplane: String) {
        switch dataplane {
        case "iptables": each { $0.iptablesRestoreFailures.increment() }
        case "nftables": each { $0.nftablesSyncFailures.increment() }
        // The userspace dataplane fails a sync only when its redirects could not be applied.
        case "userspace": userspaceRedirectFailures.increment()
        default: break
        }
    }

    /// kube-proxy's `kubeproxy_proxy_healthz_total` / `kubeproxy_proxy_livez_total` by status code.
    func healthChecked(_ endpoint: String, code: Int) {
        let d = endpoint == "livez"
            ? metric("kubeproxy_proxy_livez_total", "Cumulative proxy livez HTTP status")
            : metric("kubeproxy_proxy_healthz_total", "Cumulative proxy healthz HTTP status")
        registry.makeCounter(descriptor: d, labels: [("code", "\(code)")]).increment()
    }

    /// kube-proxy's `kubeproxy_sync_proxy_rules_iptables_total{table}`: rules of ours installed, per table.
    func rulesInstalled(_ totals: [String: Int], dataplane: String) {
        guard dataplane == "iptables" else { return }
        let d = metric("kubeproxy_sync_proxy_rules_iptables_total", "Total number of iptables rules owned by kube-proxy")
        for (table, count) in totals { registry.makeGauge(descriptor: d, labels: [("table", table)]).set(to: Double(count)) }
    }

    /// One family's conntrack reconcile ran (`family` is "IPv4" or "IPv6").
    func conntrackReconciled(family: String, seconds: Double, deleted: Int) {
        guard let series = perFamily.first(where: { $0.key.label == family })?.value else { return }
        series.conntrackDuration.record(seconds)
        if deleted > 0 { series.conntrackDeleted.increment(by: Int64(deleted)) }
    }

    /// A conntrack cleanup stopped deleting at its deadline.
    func conntrackDeadlineExceeded() { conntrackDeadlines.increment() }
}

extension IPAddress.Family {
    /// Kubernetes' `v1.IPFamily` spelling, upstream's `ip_family` label value.
    var label: String { self == .ipv4 ? "IPv4" : "IPv6" }
}
