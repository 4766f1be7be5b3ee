import Conntrack
import Glibc
import Logging
@testable import ProxyDaemon
import ProxyModel
import Synchronization
import Testing

/// The daemon's path, in a namespace of the test's own: the sync runner programs a UDP Service as a
/// DNAT rule (a one-rule stand-in for the nftables backend), the endpoint is replaced in the store,
/// and the runner's conntrack observer deletes the stale entry, so the client's next datagram
/// reaches the new endpoint instead of the gone one.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct SyncCleanupNamespaceTests {
    let dns = NamespacedName(namespace: "kube-system", name: "dns")

    /// Renders each UDP Service port with one endpoint as `dnat to` in the namespace's own table.
    final class DNATDataplane: Dataplane {
        let name = "test-dnat"
        let namespace: TestNamespace
        var natsInKernel: Bool { true }
        init(namespace: TestNamespace) { self.namespace = namespace }

        func apply(_ snapshot: ProxySnapshot, diff: SnapshotDiff, full: Bool) async throws {
            var rules = ""
            for service in snapshot.sortedServicePorts {
                guard let ep = snapshot.endpoints[service.name]?.first, let ip = service.clusterIPs.first else { continue }
                rules += "    ip daddr \(ip) udp dport \(service.port) dnat to \(ep.address):\(ep.port)\n"
            }
            try namespace.nft("""
            table ip skp_sync_test
            flush table ip skp_sync_test
            table ip skp_sync_test {
              chain output {
                type nat hook output priority -100; policy accept;
            \(rules)  }
            }
            """)
        }
    }

    /// Runs after the cleaner (observers run in order): counts syncs whose cleanup is done.
    final class Done: SyncObserver {
        let count = Mutex(0)
        func synced(_ sync: CompletedSync) async { count.withLock { $0 += 1 } }
        var value: Int { count.withLock { $0 } }
    }

    func slice(_ address: String) -> EndpointSliceInfo {
        EndpointSliceInfo(name: NamespacedName(namespace: "kube-system", name: "dns-1"), service: dns,
                          ports: [.init(name: "dns", port: 5353, protocol: .udp)], backends: [.init(address: IPAddress(address)!)])
    }

    @Test func theRunnerDeletesTheFlowOfARemovedEndpoint() async throws {
        let ns = try TestNamespace(prefix: "skp-sync")
        defer { ns.remove() }
        try ns.ip("link", "set", "lo", "up")
        try ns.ip("link", "add", "svc0", "type", "veth", "peer", "name", "svc1")
        try ns.ip("link", "set", "svc0", "up")
        try ns.ip("link", "set", "svc1", "up")
        for address in ["192.0.2.20", "192.0.2.10", "192.0.2.11"] { try ns.ip("addr", "add", address + "/32", "dev", "svc0") }
        try ns.ip("route", "add", "198.51.100.0/24", "dev", "svc0")

        let old = try UDPSocket(namespace: ns.name, bind: "192.0.2.10", port: 5353)
        let new = try UDPSocket(namespace: ns.name, bind: "192.0.2.11", port: 5353)
        let client = try UDPSocket(namespace: ns.name, bind: "192.0.2.20", port: 40053)

        let store = ClusterStore(node: NodeInfo(name: "n"))
        let status = SyncStatus()
        let cleaner = ConntrackCleaner(conntrack: try Conntrack(networkNamespace: ns.name), metrics: nil, logger: Logger(label: "test"))
        let done = Done()
        let runner = SyncRunner(store: store, dataplane: DNATDataplane(namespace: ns), minSyncPeriod: .milliseconds(10),
                                syncPeriod: .seconds(60), status: status, observers: [cleaner, done], logger: Logger(label: "test"))
        // Recorded before the runner starts, so its first sync programs it.
        let name = ServicePortName(service: dns, port: "dns", protocol: .udp)
        store.update(now: 0) {
            $0.setService(dns, ports: [ServicePort(name: name, clusterIPs: [IPAddress("198.51.100.1")!], port: 53)])
            $0.setEndpointSlice(slice("192.0.2.10"))
        }
        let task = Task { await runner.run() }
        defer { task.cancel() }
        for _ in 0..<1000 where done.value < 1 { try await Task.sleep(for: .milliseconds(10)) }
        try client.send("first", to: "198.51.100.1", port: 53)
        #expect(old.receive() == "first")

        store.update(now: 0) { $0.setEndpointSlice(slice("192.0.2.11")) }
        for _ in 0..<1000 where done.value < 2 { try await Task.sleep(for: .milliseconds(10)) }
        try client.send("second", to: "198.51.100.1", port: 53)
        #expect(new.receive() == "second")
        #expect(try Conntrack(networkNamespace: ns.name).flows(family: .ipv4)
            .filter { $0.original.destination == IPAddress("198.51.100.1") }.map(\.reply.source) == [IPAddress("192.0.2.11")!])
    }
}
