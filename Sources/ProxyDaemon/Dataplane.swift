import ProxyModel

/// Something that makes Service traffic reach endpoints: the userspace proxy, or a rule backend.
public protocol Dataplane: Sendable {
    var name: String { get }
    /// Programs `snapshot`. `full` asks to re-assert everything (first sync, periodic resync, after a
    /// failure); otherwise `diff` says what changed. A throw must leave the previous state in force.
    func apply(_ snapshot: ProxySnapshot, diff: SnapshotDiff, full: Bool) async throws
}
