import Logging
@testable import ProxyDaemon
import ProxyModel
import Synchronization
import Testing

@Suite struct SyncObserverTests {
    let dns = NamespacedName(namespace: "kube-system", name: "dns")

    final class Recorder: SyncObserver {
        let syncs = Mutex<[CompletedSync]>([])
        func synced(_ sync: CompletedSync) async { syncs.withLock { $0.append(sync) } }
        var recorded: [CompletedSync] { syncs.withLock { $0 } }
    }

    var name: ServicePortName { ServicePortName(service: dns, port: "dns", protocol: .udp) }

    func slice(_ addresses: [String]) -> EndpointSliceInfo {
        EndpointSliceInfo(name: NamespacedName(namespace: "kube-system", name: "dns-1"), service: dns,
                          ports: [.init(name: "dns", port: 53, protocol: .udp)],
                          backends: addresses.map { .init(address: IPAddress($0)!) })
    }

    @Test func observersSeeWhatWasProgrammedBeforeAndTheStaleFlowsFollow() async throws {
        let store = ClusterStore(node: NodeInfo(name: "n"))
        let recorder = Recorder()
        let runner = SyncRunner(store: store, dataplane: RecordingDataplane(), minSyncPeriod: .milliseconds(10), syncPeriod: .seconds(60),
                                observers: [recorder], logger: Logger(label: "test"))
        let task = Task { await runner.run() }
        defer { task.cancel() }
        store.update(now: 0) {
            $0.setService(dns, ports: [ServicePort(name: name, clusterIPs: [IPAddress("10.96.0.10")!], port: 53)])
            $0.setEndpointSlice(slice(["10.1.0.5", "10.1.0.6"]))
        }
        try await eventually { recorder.recorded.count == 1 }
        #expect(recorder.recorded[0].previous == nil)

        store.update(now: 0) { $0.setEndpointSlice(slice(["10.1.0.6"])) }
        try await eventually { recorder.recorded.count == 2 }
        let second = recorder.recorded[1]
        let previous = try #require(second.previous)
        #expect(previous.generation == recorder.recorded[0].snapshot.generation)
        let filters = ConntrackCleaner.filters(for: second.diff.staleFlows(from: previous, to: second.snapshot))
        #expect(filters == [.natedTo(IPAddress("10.1.0.5")!, port: 53, .udp)])
    }

    @Test func staleFlowsBecomeConntrackFiltersAndTCPIsLeftAlone() {
        let ep = Endpoint(address: IPAddress("fd00::7")!, port: 5353)
        let flows = [
            StaleFlow(protocol: .udp, target: .serviceAddress(IPAddress("10.96.0.10")!, port: 53)),
            StaleFlow(protocol: .sctp, target: .endpoint(name, ep)),
            StaleFlow(protocol: .tcp, target: .serviceAddress(IPAddress("10.96.0.11")!, port: 80)),
            StaleFlow(protocol: .udp, target: .serviceAddress(IPAddress("10.96.0.10")!, port: 53)),
        ]
        #expect(Set(ConntrackCleaner.filters(for: flows)) == [
            .originalDestination(IPAddress("10.96.0.10")!, port: 53, .udp),
            .natedTo(IPAddress("fd00::7")!, port: 5353, .sctp),
        ])
    }
}
