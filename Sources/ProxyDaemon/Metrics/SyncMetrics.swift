import Prometheus
import ProxyModel

/// kube-proxy's sync metrics (pkg/proxy/metrics), with its names, types and buckets, so existing
/// dashboards and alerts keep working.
public final class SyncMetrics: Sendable {
    /// kube-proxy's `prometheus.ExponentialBuckets(0.001, 2, 15)`: 1 ms … 16.384 s.
    static let syncBuckets: [Double] = (0..<15).map { 0.001 * Double(1 << $0) }
    /// kube-proxy's network programming buckets: 0.25, 0.5, 1…59, 60…115 by 5, 120…300 by 30 (seconds).
    static let networkProgrammingBuckets: [Double] =
        [0.25, 0.5] + (1...59).map(Double.init) + stride(from: 60.0, through: 115, by: 5) + stride(from: 120.0, through: 300, by: 30)

    private let duration, fullDuration, partialDuration, networkProgramming: ValueHistogram
    private let lastTimestamp, lastQueuedTimestamp: Gauge
    private let endpointChangesPending, serviceChangesPending: Gauge
    private let endpointChangesTotal, serviceChangesTotal: Counter
    private let noLocalEndpointsInternal, noLocalEndpointsExternal: Gauge
    private let iptablesRestoreFailures, nftablesSyncFailures, userspaceRedirectFailures: Counter
    private let conntrackDeleted: [String: Counter]
    private let conntrackDuration: [String: ValueHistogram]
    private let conntrackDeadlines: Counter
    let registry: PrometheusCollectorRegistry

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        duration = registry.makeValueHistogram(
            descriptor: metric("kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds"),
            labels: [], buckets: Self.syncBuckets)
        fullDuration = registry.makeValueHistogram(
            descriptor: metric("kubeproxy_sync_full_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for full resyncs"),
            labels: [], buckets: Self.syncBuckets)
        partialDuration = registry.makeValueHistogram(
            descriptor: metric("kubeproxy_sync_partial_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for partial resyncs"),
            labels: [], buckets: Self.syncBuckets)
        networkProgramming = registry.makeValueHistogram(
            descriptor: metric("kubeproxy_network_programming_duration_seconds", "In Cluster Network Programming Latency in seconds"),
            labels: [], buckets: Self.networkProgrammingBuckets)
        lastTimestamp = registry.makeGauge(
            descriptor: metric("kubeproxy_sync_proxy_rules_last_timestamp_seconds", "The last time proxy rules were successfully synced"))
        lastQueuedTimestamp = registry.makeGauge(
            descriptor: metric("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", "The last time a sync of proxy rules was queued"))
        endpointChangesPending = registry.makeGauge(
            descriptor: metric("kubeproxy_sync_proxy_rules_endpoint_changes_pending", "Pending proxy rules Endpoint changes"))
        serviceChangesPending = registry.makeGauge(
            descriptor: metric("kubeproxy_sync_proxy_rules_service_changes_pending", "Pending proxy rules Service changes"))
        endpointChangesTotal = registry.makeCounter(
            descriptor: metric("kubeproxy_sync_proxy_rules_endpoint_changes_total", "Cumulative proxy rules Endpoint changes"))
        serviceChangesTotal = registry.makeCounter(
            descriptor: metric("kubeproxy_sync_proxy_rules_service_changes_total", "Cumulative proxy rules Service changes"))
        let noLocal = metric("kubeproxy_sync_proxy_rules_no_local_endpoints_total",
                             "Number of services with a Local traffic policy and no endpoints")
        noLocalEndpointsInternal = registry.makeGauge(descriptor: noLocal, labels: [("traffic_policy", "internal")])
        noLocalEndpointsExternal = registry.makeGauge(descriptor: noLocal, labels: [("traffic_policy", "external")])
        iptablesRestoreFailures = registry.makeCounter(
            descriptor: metric("kubeproxy_sync_proxy_rules_iptables_restore_failures_total", "Cumulative proxy iptables restore failures"))
        nftablesSyncFailures = registry.makeCounter(
            descriptor: metric("kubeproxy_sync_proxy_rules_nftables_sync_failures_total", "Cumulative proxy nftables sync failures"))
        userspaceRedirectFailures = registry.makeCounter(
            descriptor: metric("swift_kube_proxy_userspace_redirect_failures_total",
                               "Cumulative userspace-mode syncs whose nftables redirects could not be applied"))
        // kube-proxy's reconciler metrics carry `ip_family` (IPv4, IPv6); its latency uses the sync buckets.
        var deleted: [String: Counter] = [:], reconciled: [String: ValueHistogram] = [:]
        for family in ["IPv4", "IPv6"] {
            deleted[family] = registry.makeCounter(
                descriptor: metric("kubeproxy_conntrack_reconciler_deleted_entries_total", "Cumulative conntrack flows deleted by conntrack reconciler"),
                labels: [("ip_family", family)])
            reconciled[family] = registry.makeValueHistogram(
                descriptor: metric("kubeproxy_conntrack_reconciler_sync_duration_seconds", "ReconcileConntrackFlowsLatency latency in seconds"),
                labels: [("ip_family", family)], buckets: Self.syncBuckets)
        }
        conntrackDeleted = deleted
        conntrackDuration = reconciled
        conntrackDeadlines = registry.makeCounter(
            descriptor: metric("swift_kube_proxy_conntrack_cleanup_deadline_exceeded_total",
                               "Conntrack cleanups that stopped deleting at their deadline (the rest waits for the next sync)"))
    }

    /// A source recorded changes that wait for the next sync (wall-clock seconds).
    func changesQueued(pending: (services: Int, endpoints: Int), at now: Double) {
        lastQueuedTimestamp.set(to: now)
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
        duration.record(seconds)
        (full ? fullDuration : partialDuration).record(seconds)
    }

    /// A sync succeeded at `now`: the changes behind `triggerTimes` are programmed.
    func syncSucceeded(at now: Double, triggerTimes: [Double], snapshot: ProxySnapshot) {
        lastTimestamp.set(to: now)
        for trigger in triggerTimes where now >= trigger {
            networkProgramming.record(now - trigger)
        }
        var internalCount = 0, externalCount = 0
        for service in snapshot.servicePorts.values where service.usesLocalEndpoints {
            let local = snapshot.endpointSelection(for: service.name)?.localEndpoints ?? []
            guard local.isEmpty else { continue }
            if service.internalPolicyIsLocal { internalCount += 1 }
            if service.externalPolicyIsLocal { externalCount += 1 }
        }
        noLocalEndpointsInternal.set(to: Double(internalCount))
        noLocalEndpointsExternal.set(to: Double(externalCount))
    }

    func syncFailed(dataplane: String) {
        switch dataplane {
        case "iptables": iptablesRestoreFailures.increment()
        case "nftables": nftablesSyncFailures.increment()
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
        conntrackDuration[family]?.record(seconds)
        if deleted > 0 { conntrackDeleted[family]?.increment(by: Int64(deleted)) }
    }

    /// A conntrack cleanup stopped deleting at its deadline.
    func conntrackDeadlineExceeded() { conntrackDeadlines.increment() }
}
