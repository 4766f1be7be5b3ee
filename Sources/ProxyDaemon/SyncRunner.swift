import Foundation
import Logging
import ProxyModel

/// Turns the store's changes into dataplane syncs: waits for every source's first listing, then
/// coalesces bursts (at most one sync per `minSyncPeriod`), re-asserts everything every `syncPeriod`,
/// and retries a failed sync with backoff while the previous state stays in force.
public final class SyncRunner: Sendable {
    private let store: ClusterStore
    private let dataplane: any Dataplane
    private let schedule: SyncSchedule
    private let logger: Logger
    public let status: SyncStatus
    private let wakeup = Wakeup()

    public init(store: ClusterStore, dataplane: any Dataplane, minSyncPeriod: Duration, syncPeriod: Duration,
                status: SyncStatus = SyncStatus(), logger: Logger) {
        self.store = store
        self.dataplane = dataplane
        schedule = SyncSchedule(minSyncPeriod: minSyncPeriod, syncPeriod: syncPeriod)
        self.status = status
        self.logger = logger
    }

    /// Runs until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in self.store.changes { self.wakeup.signal() }
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
            let (snapshot, diff, _) = store.takeSnapshot()
            let wallStart = Date().timeIntervalSince1970
            do {
                try await dataplane.apply(snapshot, diff: diff, full: full)
                let elapsed = now() - start
                schedule.record(syncAt: start, full: full, succeeded: true)
                status.record {
                    $0.lastSuccess = wallStart
                    $0.consecutiveFailures = 0
                    $0.syncs += 1
                    $0.lastDurationSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                    $0.generation = snapshot.generation
                }
                logger.debug("synced", metadata: ["dataplane": "\(dataplane.name)", "full": "\(full)",
                                                  "servicePorts": "\(snapshot.servicePorts.count)", "changed": "\(diff.changed.count)",
                                                  "took": "\(elapsed)"])
            } catch {
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
}
