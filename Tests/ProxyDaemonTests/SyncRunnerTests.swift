import Logging
import ProxyDaemon
import ProxyModel
import Synchronization
import Testing

/// A dataplane that records what it was asked to do, and fails when told to.
final class RecordingDataplane: Dataplane {
    struct Call: Sendable { var generation: Int; var full: Bool; var changed: Int }
    let name = "recording"
    let calls = Mutex<[Call]>([])
    let failuresLeft: Mutex<Int>
    let fullSyncPeriod: Duration?

    init(failFirst: Int = 0, fullSyncPeriod: Duration? = nil) {
        failuresLeft = Mutex(failFirst)
        self.fullSyncPeriod = fullSyncPeriod
    }

    struct Refused: Error {}

    func apply(_ snapshot: ProxySnapshot, diff: SnapshotDiff, full: Bool) async throws {
        calls.withLock { $0.append(Call(generation: snapshot.generation, full: full, changed: diff.changed.count)) }
        let fail = failuresLeft.withLock { n -> Bool in
            defer { n = max(0, n - 1) }
            return n > 0
        }
        if fail { throw Refused() }
    }

    var recorded: [Call] { calls.withLock { $0 } }
}

@Suite struct SyncRunnerTests {
    let web = NamespacedName(namespace: "default", name: "web")

    func port(_ ip: String) -> ServicePort {
        ServicePort(name: ServicePortName(service: web, port: "", protocol: .tcp), clusterIPs: [IPAddress(ip)!], port: 80)
    }

    func until(_ condition: () -> Bool) async throws {
        for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
    }

    @Test func waitsForEverySourceThenSyncsFullThenIncrementally() async throws {
        let store = ClusterStore(node: NodeInfo(name: "n"))
        store.expectInitialSync(of: "a")
        store.expectInitialSync(of: "b")
        let dataplane = RecordingDataplane()
        let runner = SyncRunner(store: store, dataplane: dataplane, minSyncPeriod: .milliseconds(10), syncPeriod: .seconds(60),
                                logger: Logger(label: "test"))
        let task = Task { await runner.run() }
        defer { task.cancel() }

        store.update(now: 0) { $0.setService(web, ports: [port("10.0.0.1")]) }
        store.markSynced("a")
        // Only one of two sources has listed: nothing may be programmed yet.
        try await Task.sleep(for: .milliseconds(50))
        #expect(dataplane.recorded.isEmpty)

        store.markSynced("b")
        try await until { dataplane.recorded.count == 1 }
        #expect(dataplane.recorded.first?.full == true)

        store.update(now: 0) { $0.setService(web, ports: [port("10.0.0.2")]) }
        try await until { dataplane.recorded.count == 2 }
        #expect(dataplane.recorded.last?.full == false)
        #expect(dataplane.recorded.last?.changed == 1)
        #expect(runner.status.current.consecutiveFailures == 0)
    }

    @Test func aDataplaneWithALongerFullSyncPeriodIsResyncedThatOften() {
        let store = ClusterStore(node: NodeInfo(name: "n"))
        let hourly = SyncRunner(store: store, dataplane: RecordingDataplane(fullSyncPeriod: .seconds(3600)), minSyncPeriod: .seconds(1),
                                syncPeriod: .seconds(30), logger: Logger(label: "test"))
        #expect(hourly.fullResyncPeriod == .seconds(3600))
        let plain = SyncRunner(store: store, dataplane: RecordingDataplane(), minSyncPeriod: .seconds(1), syncPeriod: .seconds(30),
                               logger: Logger(label: "test"))
        #expect(plain.fullResyncPeriod == .seconds(30))
        // A syncPeriod longer than the dataplane's wins: the operator asked for fewer full syncs.
        let rare = SyncRunner(store: store, dataplane: RecordingDataplane(fullSyncPeriod: .seconds(3600)), minSyncPeriod: .seconds(1),
                              syncPeriod: .seconds(7200), logger: Logger(label: "test"))
        #expect(rare.fullResyncPeriod == .seconds(7200))
    }

    @Test func failedSyncIsRetriedInFull() async throws {
        let store = ClusterStore(node: NodeInfo(name: "n"))
        let dataplane = RecordingDataplane(failFirst: 2)
        let runner = SyncRunner(store: store, dataplane: dataplane, minSyncPeriod: .milliseconds(10), syncPeriod: .seconds(60),
                                logger: Logger(label: "test"))
        let task = Task { await runner.run() }
        defer { task.cancel() }
        store.update(now: 0) { $0.setService(web, ports: [port("10.0.0.1")]) }
        try await until { runner.status.current.syncs == 1 }
        let calls = dataplane.recorded
        #expect(calls.count == 3)
        #expect(calls.allSatisfy { $0.full })
        #expect(runner.status.current.consecutiveFailures == 0)
    }
}
