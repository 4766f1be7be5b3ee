@testable import ProxyDaemon
import Testing

/// The sync timing rules, driven by hand-picked instants: no clock, no sleeps.
@Suite struct SyncScheduleTests {
    var schedule = SyncSchedule(minSyncPeriod: .seconds(1), syncPeriod: .seconds(30))

    @Test func firstSyncIsImmediateAndFull() {
        #expect(schedule.earliestNextSync() == .zero)
        #expect(schedule.mustBeFull(at: .zero))
    }

    @Test mutating func changesWaitForMinSyncPeriodAndAreIncremental() {
        schedule.record(syncAt: .seconds(10), full: true, succeeded: true)
        schedule.record(syncAt: .seconds(10), full: false, succeeded: true)   // the burst's second
        #expect(schedule.earliestNextSync() == .seconds(11))
        #expect(!schedule.mustBeFull(at: .seconds(11)))
        #expect(schedule.deadline() == .seconds(40))   // periodic resync
        #expect(schedule.mustBeFull(at: .seconds(40)))
    }

    /// A Service and then its EndpointSlice, 20 ms apart: both sync at once (burst of two), a third
    /// change waits for the bucket to refill, and a quiet spell refills it to two, not more.
    @Test mutating func twoSyncsMayRunBackToBackThenOnePerMinSyncPeriod() {
        schedule.record(syncAt: .seconds(10), full: true, succeeded: true)
        #expect(schedule.earliestNextSync() == .seconds(10))
        schedule.record(syncAt: .milliseconds(10_020), full: false, succeeded: true)
        #expect(schedule.earliestNextSync() == .milliseconds(11_000))
        schedule.record(syncAt: .seconds(11), full: false, succeeded: true)
        #expect(schedule.earliestNextSync() == .seconds(12))
        // A minute later the bucket holds two again: two back to back, then the wait.
        schedule.record(syncAt: .seconds(71), full: false, succeeded: true)
        #expect(schedule.earliestNextSync() == .seconds(71))
        schedule.record(syncAt: .seconds(71), full: false, succeeded: true)
        #expect(schedule.earliestNextSync() == .seconds(72))
    }

    @Test func aZeroMinSyncPeriodNeverWaits() {
        var s = SyncSchedule(minSyncPeriod: .zero, syncPeriod: .seconds(30))
        for t in 0..<5 { s.record(syncAt: .seconds(t), full: false, succeeded: true) }
        #expect(s.earliestNextSync() == .seconds(4))
    }

    @Test mutating func failuresRetryWithDoublingBackoffAndForceFullSync() {
        schedule.record(syncAt: .seconds(10), full: true, succeeded: true)
        schedule.record(syncAt: .seconds(12), full: false, succeeded: false)
        #expect(schedule.deadline() == .seconds(13))
        #expect(schedule.mustBeFull(at: .seconds(13)))
        schedule.record(syncAt: .seconds(13), full: true, succeeded: false)
        #expect(schedule.deadline() == .seconds(15))
        for t in 0..<10 { schedule.record(syncAt: .seconds(20 + t), full: true, succeeded: false) }
        #expect(schedule.retryDelay == .seconds(30))   // capped
        schedule.record(syncAt: .seconds(100), full: true, succeeded: true)
        #expect(schedule.failures == 0)
        #expect(schedule.deadline() == .seconds(130))
    }
}
