import ProxyModel

/// A dataplane that forwards Service traffic by kernel rules (iptables, nftables). The daemon's sync
/// runner calls it; it never reads the API or the model's stores itself.
public protocol RuleSyncBackend: AnyObject, Sendable {
    /// Programs the dataplane; `changes == nil` asks for a full sync. Throws leave the previous rules in force.
    func sync(_ snapshot: ProxySnapshot, changes: SnapshotDiff?) throws -> SyncReport
    /// Removes everything this program installed, and nothing else.
    func cleanup() throws
}

/// What one sync did, for logs and metrics.
public struct SyncReport: Sendable, Hashable {
    /// Everything was rewritten (first sync, periodic resync, after a failure, or `changes == nil`).
    public var full: Bool
    /// Rules sent to the kernel by this sync (kube-proxy's restore input lines that are rules).
    public var rulesWritten: Int
    /// Chains declared (created or rewritten) by this sync.
    public var chainsWritten: Int
    /// Chains deleted by this sync (removed Services and endpoints, stale chains of ours).
    public var chainsDeleted: Int
    /// Size of the restore input / netlink batch.
    public var bytesWritten: Int
    /// Rules of ours now installed, by table (`kubeproxy_sync_proxy_rules_iptables_total`).
    public var totalRules: [String: Int]
    /// Service ports with `internalTrafficPolicy: Local`, endpoints elsewhere but none here: ClusterIP traffic dropped.
    public var noLocalEndpointsInternal: Int
    /// Service ports with `externalTrafficPolicy: Local`, endpoints elsewhere but none here: external traffic dropped.
    public var noLocalEndpointsExternal: Int
    /// Service ports this sync rendered but left out, as the backend could not program them
    /// (`swift_kube_proxy_sync_skipped_service_ports_total`). Only those rendered by this sync:
    /// an incremental sync does not list a skipped port again until it changes.
    public var skipped: [SkippedServicePort] = []
    /// iptables: rules sent by this sync per table (`kubeproxy_sync_proxy_rules_iptables_last{table}`).
    public var rulesWrittenByTable: [String: Int] = [:]
    /// iptables: packets the forward path's `ctstate INVALID` drop has dropped since the backend
    /// started (`kubeproxy_iptables_ct_state_invalid_dropped_packets_total`); nil when there is no
    /// such rule (`nf_conntrack_tcp_be_liberal`) or its counter could not be read.
    public var invalidDroppedPackets: Int?
    /// iptables: restores of a partial (incremental) sync that failed since the backend started
    /// (`kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total`).
    public var partialRestoreFailures = 0

    public init(full: Bool, rulesWritten: Int = 0, chainsWritten: Int = 0, chainsDeleted: Int = 0, bytesWritten: Int = 0,
                totalRules: [String: Int] = [:], noLocalEndpointsInternal: Int = 0, noLocalEndpointsExternal: Int = 0) {
        self.full = full
        self.rulesWritten = rulesWritten
        self.chainsWritten = chainsWritten
        self.chainsDeleted = chainsDeleted
        self.bytesWritten = bytesWritten
        self.totalRules = totalRules
        self.noLocalEndpointsInternal = noLocalEndpointsInternal
        self.noLocalEndpointsExternal = noLocalEndpointsExternal
    }

    /// `kubeproxy_sync_proxy_rules_no_local_endpoints_total`, both traffic policies together.
    public var noLocalEndpoints: Int { noLocalEndpointsInternal + noLocalEndpointsExternal }
}
