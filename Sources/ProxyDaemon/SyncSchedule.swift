/// When the next sync runs, as a pure function of what happened (kube-proxy's BoundedFrequencyRunner):
/// never sooner than `minSyncPeriod` after the previous one, at least every `syncPeriod` (a full
/// resync), and after a failure again in a backoff that doubles up to `maxRetryInterval`.
struct SyncSchedule: Sendable, Equatable {
    var minSyncPeriod: Duration
    var syncPeriod: Duration
    var retryInterval: Duration = .seconds(1)
    var maxRetryInterval: Duration = .seconds(30)

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
        return lastSync + (failures > 0 ? retryDelay : minSyncPeriod)
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
        lastSync = start
        if succeeded {
            failures = 0
            if full { lastFullSync = start }
        } else {
            failures += 1
        }
    }
}
