import Foundation
import Logging
import ProxyModel
import Synchronization

/// Turns the store's changes into dataplane syncs: waits for every source's first listing, then
/// coalesces bursts (at most one sync per `minSyncPeriod`), re-asserts everything every `syncPeriod`
/// (or the dataplane's longer `fullSyncPeriod`), and retries a failed sync with backoff while the
/// previous state stays in force.
public final class SyncRunner: Sendable {
    private let store: ClusterStore
    private let dataplane: any Dataplane
    private let schedule: SyncSchedule
    private let logger: Logger
    public let status: SyncStatus
    private let metrics: SyncMetrics?
    private let observers: [any SyncObserver]
    private let wakeup = Wakeup()
    /// The store still awaited a first listing when the runner was made (the daemon's case), and
    /// when the runner first saw it complete.
    private let startedUnsynced: Bool
    private let syncedAt = Mutex<Double?>(nil)
    /// Marking changes queued (the watcher task) and taking them (the loop) race: each reads the
    /// store's pending changes and then sets the gauges. One at a time, the gauges end as the store is.
    private let queueing = Mutex(())

    public init(store: ClusterStore, dataplane: any Dataplane, minSyncPeriod: Duration, syncPeriod: Duration,
                status: SyncStatus = SyncStatus(), metrics: SyncMetrics? = nil, observers: [any SyncObserver] = [],
                logger: Logger) {
        self.store = store
        startedUnsynced = !store.hasSynced
        self.dataplane = dataplane
        schedule = SyncSchedule(minSyncPeriod: minSyncPeriod, syncPeriod: max(syncPeriod, dataplane.fullSyncPeriod ?? syncPeriod))
        self.status = status
        self.metrics = metrics
        self.observers = observers
        self.logger = logger
    }

    /// How often a full sync re-asserts everything: `syncPeriod`, or the dataplane's longer `fullSyncPeriod`.
    public var fullResyncPeriod: Duration { schedule.syncPeriod }

    /// Runs until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in self.store.changes {
                    self.changesQueued()
                    self.wakeup.signal()
                }
            }
            group.addTask { await self.loop() }
            await group.next()
            group.cancelAll()
        }
    }

    private func loop() async {
        let clock = ContinuousClock()
        let origin = clock.now
        func now() -> Duration { clock.now - origin }

        // No sync before synced: an empty first sync would blackhole every Service after a restart.
        while !store.hasSynced {
            _ = await wakeup.wait(for: .seconds(1))
            if Task.isCancelled { return }
        }
        var schedule = self.schedule
        var forced = true
        // The last snapshot a sync programmed: stale flows and observers compare against it.
        var programmed: ProxySnapshot?
        while !Task.isCancelled {
            if !forced {
                let woken = await wakeup.wait(for: max(.zero, schedule.deadline() - now()))
                if Task.isCancelled { return }
                if !woken && now() < schedule.deadline() { continue }
            }
            let earliest = schedule.earliestNextSync()
            if now() < earliest {
                // Let changes pile up in the store; they are all taken at once below.
                try? await Task.sleep(for: earliest - now())
                if Task.isCancelled { return }
            }
            let start = now()
            let full = schedule.mustBeFull(at: start)
            // A wake-up whose change was already taken by the previous sync has nothing to do.
            if !full && !store.hasPendingChanges { continue }
            // The watcher task may not have seen these changes yet (the two tasks race): mark them
            // queued here too, so a sync that fails still leaves them counted as waiting.
            let (snapshot, diff, triggerTimes) = queueing.withLock { _ in
                if status.current.oldestQueuedChange == nil { markQueued() }
                metrics?.changesTaken(pending: store.pendingChanges)
                return store.takeSnapshot()
            }
            let wallStart = Date().timeIntervalSince1970
            do {
                try await dataplane.apply(snapshot, diff: diff, full: full)
                let elapsed = now() - start
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                schedule.record(syncAt: start, full: full, succeeded: true)
                let wallEnd = Date().timeIntervalSince1970
                let stillPending = store.oldestPendingChange
                // Metrics before status: whoever sees the sync counted in the status finds it in the metrics too.
                metrics?.syncRan(seconds: seconds, full: full)
                metrics?.syncSucceeded(at: wallEnd, triggerTimes: triggerTimes, snapshot: snapshot)
                status.record {
                    $0.lastSuccess = wallStart
                    $0.consecutiveFailures = 0
                    $0.syncs += 1
                    $0.lastDurationSeconds = seconds
                    $0.generation = snapshot.generation
                    // Changes queued during the sync are still waiting; the rest are programmed.
                    $0.oldestQueuedChange = stillPending
                }
                // After a failed sync the store's diff is relative to a snapshot that was never programmed.
                let sinceProgrammed = programmed.map { $0.generation == snapshot.generation - 1 ? diff : SnapshotDiff(from: $0, to: snapshot) } ?? diff
                let completed = CompletedSync(previous: programmed, snapshot: snapshot, diff: sinceProgrammed, full: full)
                programmed = snapshot
                for observer in observers { await observer.synced(completed) }
                if completed.previous == nil {
                    logger.info("first sync programmed", metadata: ["dataplane": "\(dataplane.name)", "servicePorts": "\(snapshot.servicePorts.count)",
                                                                    "took": "\(elapsed)"])
                }
                if schedule.minSyncPeriod > .zero, elapsed > schedule.minSyncPeriod {
                    // Syncs slower than they may run: changes queue up behind them (kube-proxy warns too).
                    logger.warning("sync took longer than minSyncPeriod", metadata: ["dataplane": "\(dataplane.name)", "took": "\(elapsed)",
                                                                                     "minSyncPeriod": "\(schedule.minSyncPeriod)", "full": "\(full)"])
                }
                logger.debug("synced", metadata: ["dataplane": "\(dataplane.name)", "full": "\(full)",
                                                  "servicePorts": "\(snapshot.servicePorts.count)", "changed": "\(diff.changed.count)",
                                                  "took": "\(elapsed)"])
            } catch {
                let elapsed = now() - start
                metrics?.syncRan(seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18, full: full)
                metrics?.syncFailed(dataplane: dataplane.name)
                schedule.record(syncAt: start, full: full, succeeded: false)
                status.record {
                    $0.lastFailure = wallStart
                    $0.consecutiveFailures += 1
                }
                logger.error("sync failed, previous state stays in force; retrying in \(schedule.retryDelay)",
                             metadata: ["dataplane": "\(dataplane.name)", "error": "\(error)"])
            }
            forced = false
            // Changes that arrived during the sync are picked up by the next wait (the wake-up is pending).
            if store.hasPendingChanges { wakeup.signal() }
        }
    }

    /// A source recorded something: remember when the oldest unprogrammed change arrived (for
    /// /healthz) and publish the queue to the metrics.
    private func changesQueued() {
        queueing.withLock { _ in markQueued() }
    }

    private func markQueued() {
        // As kube-proxy's health: the first listing is start-up, not staleness. Nothing counts as
        // waiting before every source has listed, and what the listing recorded waits only from the
        // moment the runner saw them all listed.
        guard store.hasSynced, store.hasPendingChanges else { return }
        let now = Date().timeIntervalSince1970
        let floor = startedUnsynced ? syncedAt.withLock { at in at ?? { at = now; return now }() } : -Double.infinity
        let queuedAt = max(store.oldestPendingChange ?? now, floor)
        status.record { if $0.oldestQueuedChange == nil { $0.oldestQueuedChange = queuedAt } }
        metrics?.changesQueued(pending: store.pendingChanges, at: now)
    }
}
