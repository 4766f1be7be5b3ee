import ProxyModel

/// A sync that was programmed: what was in force before (nil for the first) and what is now.
public struct CompletedSync: Sendable {
    public var previous: ProxySnapshot?
    public var snapshot: ProxySnapshot
    /// From `previous` to `snapshot` (also across failed syncs in between).
    public var diff: SnapshotDiff
    public var full: Bool

    public init(previous: ProxySnapshot?, snapshot: ProxySnapshot, diff: SnapshotDiff, full: Bool) {
        self.previous = previous
        self.snapshot = snapshot
        self.diff = diff
        self.full = full
    }
}

/// What runs after each successful sync, in order: conntrack cleanup, health check node ports, the
/// systemd readiness notice. An observer handles its own errors (the rules are in force regardless).
public protocol SyncObserver: Sendable {
    func synced(_ sync: CompletedSync) async
}
