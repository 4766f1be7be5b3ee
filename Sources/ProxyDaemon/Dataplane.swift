import ProxyModel

/// Something that makes Service traffic reach endpoints: the userspace proxy, or a rule backend.
public protocol Dataplane: Sendable {
    var name: String { get }
    /// Programs `snapshot`. `full` asks to re-assert everything (first sync, periodic resync, after a
    /// failure); otherwise `diff` says what changed. A throw must leave the previous state in force.
    func apply(_ snapshot: ProxySnapshot, diff: SnapshotDiff, full: Bool) async throws
    /// The dataplane NATs in the kernel (nftables, iptables), so conntrack entries of removed
    /// endpoints must be deleted after a sync. Default false (the userspace proxy).
    var natsInKernel: Bool { get }
    /// How often a full resync re-asserts everything, if not every `syncPeriod`; nil: `syncPeriod`.
    var fullSyncPeriod: Duration? { get }
}

extension Dataplane {
    /// The userspace proxy's flows are its own sockets: nothing in conntrack to clear.
    public var natsInKernel: Bool { false }
    public var fullSyncPeriod: Duration? { nil }
}
