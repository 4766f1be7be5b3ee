/// kube-proxy's metrics as upstream exports them: kubernetes/kubernetes `pkg/proxy/metrics/metrics.go`
/// (names, types, buckets) with the labels of the v1.34 metrics reference
/// (website `content/en/docs/reference/instrumentation/metrics.md`, where the per-family proxiers
/// added `ip_family`). Written out by hand as test data; `MetricsConformanceTests` scrapes ours against it.
struct UpstreamMetric: Sendable {
    enum Kind: String, Sendable { case counter, gauge, histogram }
    /// Why a metric of upstream's is not checked on our scrape.
    enum Omission: Sendable, Equatable {
        /// Not exported by us, on purpose.
        case omitted(String)
        /// Another part (file) exports it; checked only where a scrape has it.
        case elsewhere(String)
    }

    var name: String
    var kind: Kind
    var labels: Set<String>
    var omission: Omission? = nil
}

enum UpstreamMetrics {
    static let all: [UpstreamMetric] = [
        .init(name: "kubeproxy_sync_proxy_rules_duration_seconds", kind: .histogram, labels: ["ip_family"]),
        .init(name: "kubeproxy_sync_full_proxy_rules_duration_seconds", kind: .histogram, labels: ["ip_family"]),
        .init(name: "kubeproxy_sync_partial_proxy_rules_duration_seconds", kind: .histogram, labels: ["ip_family"]),
        .init(name: "kubeproxy_sync_proxy_rules_last_timestamp_seconds", kind: .gauge, labels: ["ip_family"]),
        .init(name: "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", kind: .gauge, labels: ["ip_family"]),
        .init(name: "kubeproxy_network_programming_duration_seconds", kind: .histogram, labels: ["ip_family"]),
        .init(name: "kubeproxy_sync_proxy_rules_endpoint_changes_pending", kind: .gauge, labels: []),
        .init(name: "kubeproxy_sync_proxy_rules_endpoint_changes_total", kind: .counter, labels: []),
        .init(name: "kubeproxy_sync_proxy_rules_service_changes_pending", kind: .gauge, labels: []),
        .init(name: "kubeproxy_sync_proxy_rules_service_changes_total", kind: .counter, labels: []),
        // A gauge named `_total` upstream: promtool's one finding on kube-proxy's own scrape.
        .init(name: "kubeproxy_sync_proxy_rules_no_local_endpoints_total", kind: .gauge, labels: ["ip_family", "traffic_policy"]),
        .init(name: "kubeproxy_sync_proxy_rules_iptables_restore_failures_total", kind: .counter, labels: ["ip_family"]),
        .init(name: "kubeproxy_sync_proxy_rules_iptables_total", kind: .gauge, labels: ["ip_family", "table"],
              omission: .omitted("ip_family left out: the iptables backend's sync report sums its rules over both families")),
        .init(name: "kubeproxy_sync_proxy_rules_nftables_sync_failures_total", kind: .counter, labels: ["ip_family"]),
        .init(name: "kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total", kind: .counter, labels: ["ip_family"]),
        .init(name: "kubeproxy_conntrack_reconciler_sync_duration_seconds", kind: .histogram, labels: ["ip_family"]),
        .init(name: "kubeproxy_conntrack_reconciler_deleted_entries_total", kind: .counter, labels: ["ip_family"]),
        .init(name: "kubeproxy_proxy_healthz_total", kind: .counter, labels: ["code"]),
        .init(name: "kubeproxy_proxy_livez_total", kind: .counter, labels: ["code"]),
        .init(name: "kubeproxy_sync_proxy_rules_iptables_last", kind: .gauge, labels: ["ip_family", "table"],
              omission: .elsewhere("the iptables backend's metrics (Metrics/IPTablesMetrics.swift)")),
        .init(name: "kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total", kind: .counter, labels: ["ip_family"],
              omission: .elsewhere("the iptables backend's metrics (Metrics/IPTablesMetrics.swift)")),
        // Upstream: a collector reading an nfacct counter ("Custom" in the reference), exposed as a counter.
        .init(name: "kubeproxy_iptables_ct_state_invalid_dropped_packets_total", kind: .counter, labels: [],
              omission: .elsewhere("the iptables backend's metrics (Metrics/IPTablesMetrics.swift)")),
        .init(name: "kubeproxy_iptables_localhost_nodeports_accepted_packets_total", kind: .counter, labels: [],
              omission: .omitted("an nfacct counter on the iptables localhost-NodePort rule; our iptables rules keep no nfacct object")),
    ]
}
