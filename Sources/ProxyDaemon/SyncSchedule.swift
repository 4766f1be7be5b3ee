/// When the next sync runs, as a pure function of what happened (kube-proxy's BoundedFrequencyRunner):
/// on average no more often than once per `minSyncPeriod`, with a burst of `burst` syncs allowed back
/// to back (a token bucket holding `burst` tokens, one added per `minSyncPeriod`); at least every
/// `syncPeriod` (a full resync); after a failure again in a backoff that doubles up to `maxRetryInterval`.
///
/// The burst is why a Service created with its endpoints is live at once: the Service and its
/// EndpointSlice arrive as two changes a moment apart, and the second no longer waits a whole
/// `minSyncPeriod` behind the first (kube-proxy runs with a burst of 2 for the same reason).
struct SyncSchedule: Sendable, Equatable {
    var minSyncPeriod: Duration
    var syncPeriod: Duration
    var retryInterval: Duration = .seconds(1)
    var maxRetryInterval: Duration = .seconds(30)
    var burst = 2

    /// Tokens left right after the last sync took one (the bucket starts full).
    private(set) var tokensAfterLastSync = 0.0

    /// Consecutive failed syncs.
    private(set) var failures = 0
    /// Seconds on the monotonic clock of the last sync's start, nil before the first.
    private(set) var lastSync: Duration?
    private(set) var lastFullSync: Duration?

    init(minSyncPeriod: Duration, syncPeriod: Duration) {
        self.minSyncPeriod = minSyncPeriod
        self.syncPeriod = syncPeriod
    }

    /// The earliest time a change may be synced.
    func earliestNextSync() -> Duration {
        guard let lastSync else { return .zero }
        if failures > 0 { return lastSync + retryDelay }
        guard minSyncPeriod > .zero, tokensAfterLastSync < 1 else { return lastSync }
        return lastSync + minSyncPeriod * (1 - tokensAfterLastSync)
    }

    /// Tokens in the bucket at `time`.
    func tokens(at time: Duration) -> Double {
        guard let lastSync, minSyncPeriod > .zero else { return Double(burst) }
        return min(Double(burst), tokensAfterLastSync + (time - lastSync) / minSyncPeriod)
    }

    /// When a sync must run even without changes: a retry after failure, or the periodic resync.
    func deadline() -> Duration {
        guard let lastSync else { return .zero }
        return failures > 0 ? lastSync + retryDelay : (lastFullSync ?? lastSync) + syncPeriod
    }

    /// A sync at `now` must be full: the first, periodic, or after a failure.
    func mustBeFull(at now: Duration) -> Bool {
        guard let lastFullSync else { return true }
        return failures > 0 || now >= lastFullSync + syncPeriod
    }

    var retryDelay: Duration {
        var d = retryInterval
        for _ in 1..<max(1, failures) where d < maxRetryInterval { d = d * 2 }
        return min(d, maxRetryInterval)
    }

    mutating func record(syncAt start: Duration, full: Bool, succeeded: Bool) {
        tokensAfterLastSync = max(0, tokens(at: start) - 1)
        lastSync = start
        if succeeded {
            failures = 0
            if full { lastFullSync = start }
        } else {
            failures += 1
        }
    }
}
