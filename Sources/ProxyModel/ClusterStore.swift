import Synchronization

/// The meeting point of sources and the sync loop: sources record what they observe, the sync loop
/// takes snapshots. Every update wakes the single `changes` stream, whose one-slot buffer makes
/// bursts coalesce into one wake-up.
public final class ClusterStore: Sendable {
    private struct Guarded {
        var state: ClusterState
        var awaitingInitialSync: Set<String> = []
        /// Wall-clock seconds of the oldest change not yet taken into a snapshot.
        var oldestPendingChange: Double?
    }

    private let guarded: Mutex<Guarded>
    private let wake: AsyncStream<Void>.Continuation
    /// Yields after every update (coalesced); ends when the store is finished.
    public let changes: AsyncStream<Void>

    public init(node: NodeInfo) {
        guarded = Mutex(Guarded(state: ClusterState(node: node)))
        (changes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Applies one batch of changes from a source, then wakes the sync loop.
    public func update(now: Double, _ body: (inout ClusterState) -> Void) {
        guarded.withLock {
            body(&$0.state)
            if $0.state.hasPendingChanges, $0.oldestPendingChange == nil { $0.oldestPendingChange = now }
        }
        wake.yield()
    }

    /// Declares a source whose first complete listing must arrive before the first sync, so that a
    /// restart does not program an empty (blackholing) ruleset.
    public func expectInitialSync(of source: String) {
        guarded.withLock { _ = $0.awaitingInitialSync.insert(source) }
    }

    public func markSynced(_ source: String) {
        guarded.withLock { _ = $0.awaitingInitialSync.remove(source) }
        wake.yield()
    }

    public var hasSynced: Bool { guarded.withLock { $0.awaitingInitialSync.isEmpty } }

    public var hasPendingChanges: Bool { guarded.withLock { $0.state.hasPendingChanges } }

    /// When the oldest change still waiting for a sync arrived (for /healthz staleness), if any.
    public var oldestPendingChange: Double? { guarded.withLock { $0.oldestPendingChange } }

    public var pendingChanges: (services: Int, endpoints: Int) {
        guarded.withLock { ($0.state.pendingServiceChanges, $0.state.pendingEndpointChanges) }
    }

    /// Reads the state without taking a snapshot (health checks look at the node this way).
    public func read<T>(_ body: (ClusterState) -> T) -> T { guarded.withLock { body($0.state) } }

    /// Builds the next snapshot from everything recorded so far.
    public func takeSnapshot() -> (snapshot: ProxySnapshot, diff: SnapshotDiff, triggerTimes: [Double]) {
        guarded.withLock {
            let triggers = $0.state.pendingTriggerTimes
            let (snapshot, diff) = $0.state.takeSnapshot()
            $0.oldestPendingChange = nil
            return (snapshot, diff, triggers)
        }
    }

    /// Ends the `changes` stream (on shutdown).
    public func finish() { wake.finish() }
}
