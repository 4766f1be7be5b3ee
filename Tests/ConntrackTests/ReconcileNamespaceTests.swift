import Conntrack
import Glibc
import Logging
@testable import ProxyDaemon
import ProxyModel
import Testing

/// Real kernel, in a namespace of the test's own: the cleaner reconciles against one snapshot, with
/// no previous one (as on the first sync after a restart), and real UDP flows through DNAT.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct ReconcileNamespaceTests {
    static let dns = ServicePortName(service: NamespacedName(namespace: "kube-system", name: "dns"), port: "dns", protocol: .udp)

    /// lo up, a veth pair carrying the client (.20), node (.30) and endpoint (.10, .11) addresses, and
    /// a route to the Service range.
    func namespace() throws -> TestNamespace {
        let ns = try TestNamespace(prefix: "skp-rec")
        do {
            try ns.ip("link", "set", "lo", "up")
            try ns.ip("link", "add", "svc0", "type", "veth", "peer", "name", "svc1")
            try ns.ip("link", "set", "svc0", "up")
            try ns.ip("link", "set", "svc1", "up")
            for address in ["192.0.2.20", "192.0.2.30", "192.0.2.10", "192.0.2.11"] { try ns.ip("addr", "add", address + "/32", "dev", "svc0") }
            try ns.ip("route", "add", "198.51.100.0/24", "dev", "svc0")
        } catch {
            ns.remove()
            throw error
        }
        return ns
    }

    /// Our NAT chain with `rules`; its `ct state` rule turns connection tracking on in the namespace
    /// even when there is no DNAT (a base chain alone does not).
    func dnat(_ rules: String) -> String {
        """
        table ip skp_rec_test
        flush table ip skp_rec_test
        table ip skp_rec_test {
          chain output {
            type nat hook output priority -100; policy accept;
            ct state new counter
        \(rules)
          }
        }
        """
    }

    func snapshot(nodePort: Int = 0, _ endpoints: [Endpoint]) -> ProxySnapshot {
        ProxySnapshot(node: NodeInfo(name: "n"),
                      servicePorts: [Self.dns: ServicePort(name: Self.dns, clusterIPs: [IPAddress("198.51.100.1")!], port: 53, nodePort: nodePort)],
                      endpoints: [Self.dns: endpoints])
    }

    func cleaner(_ ns: TestNamespace) throws -> ConntrackCleaner {
        ConntrackCleaner(conntrack: try Conntrack(networkNamespace: ns.name), metrics: nil, logger: Logger(label: "test"), families: [.ipv4])
    }

    func flows(_ ns: TestNamespace, to address: String) throws -> [ConntrackFlow] {
        try Conntrack(networkNamespace: ns.name).flows(family: .ipv4).filter { $0.original.destination == IPAddress(address)! }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        /// The state of the endpoint the flow went to, or nil when it is gone from the Service.
        var old: Endpoint?
        var deleted: Bool
        var testDescription: String { name }
    }

    static let cases = [
        Case(name: "an endpoint that went away: its flow is deleted", old: nil, deleted: true),
        Case(name: "a terminating but serving endpoint keeps its flow",
             old: Endpoint(address: IPAddress("192.0.2.10")!, port: 5353, isReady: false, isServing: true, isTerminating: true), deleted: false),
        Case(name: "a terminating endpoint no longer serving: its flow is deleted",
             old: Endpoint(address: IPAddress("192.0.2.10")!, port: 5353, isReady: false, isServing: false, isTerminating: true), deleted: true),
    ]

    @Test(arguments: cases)
    func aClusterIPFlow(_ c: Case) async throws {
        let ns = try namespace()
        defer { ns.remove() }
        try ns.nft(dnat("    ip daddr 198.51.100.1 udp dport 53 dnat to 192.0.2.10:5353"))
        let old = try UDPSocket(namespace: ns.name, bind: "192.0.2.10", port: 5353)
        let new = try UDPSocket(namespace: ns.name, bind: "192.0.2.11", port: 5353)
        let client = try UDPSocket(namespace: ns.name, bind: "192.0.2.20", port: 40053)
        try client.send("first", to: "198.51.100.1", port: 53)
        #expect(old.receive() == "first")
        // The rules now send new flows to .11 only; .10 is in the snapshot as the case says.
        try ns.nft(dnat("    ip daddr 198.51.100.1 udp dport 53 dnat to 192.0.2.11:5353"))
        let endpoints = [Endpoint(address: IPAddress("192.0.2.11")!, port: 5353)] + (c.old.map { [$0] } ?? [])

        let reports = try await cleaner(ns).clean(snapshot(endpoints))
        #expect(reports.map(\.deleted.deleted) == [c.deleted ? 1 : 0])
        #expect(reports.first?.error == nil)
        try client.send("second", to: "198.51.100.1", port: 53)
        if c.deleted {
            #expect(new.receive() == "second")
            #expect(try flows(ns, to: "198.51.100.1").map(\.reply.source) == [IPAddress("192.0.2.11")!])
        } else {
            #expect(old.receive() == "second")
            #expect(try flows(ns, to: "198.51.100.1").map(\.reply.source) == [IPAddress("192.0.2.10")!])
        }
    }

    /// A client sent to the NodePort before the Service had endpoints: its entry was never NATed
    /// (reply from the node address itself) and would hold the client there for good.
    @Test func aNodePortFlowFromBeforeTheServiceHadEndpointsIsCleared() async throws {
        let ns = try namespace()
        defer { ns.remove() }
        // A NAT chain with no DNAT yet (its `ct` rule makes the namespace track connections).
        try ns.nft(dnat(""))
        let endpoint = try UDPSocket(namespace: ns.name, bind: "192.0.2.10", port: 5353)
        let client = try UDPSocket(namespace: ns.name, bind: "192.0.2.20", port: 40054)
        try client.send("early", to: "192.0.2.30", port: 30053)
        let early = try flows(ns, to: "192.0.2.30")
        #expect(early.map(\.reply.source) == [IPAddress("192.0.2.30")!])

        // Endpoints appear; the rules DNAT the NodePort, but the old entry still bypasses them.
        try ns.nft(dnat("    ip daddr 192.0.2.30 udp dport 30053 dnat to 192.0.2.10:5353"))
        try client.send("ignored", to: "192.0.2.30", port: 30053)
        let cleaner = try cleaner(ns)
        // First a sync whose Service has no endpoints yet: nothing to reconcile, nothing deleted.
        #expect(await cleaner.clean(snapshot(nodePort: 30053, [])).map(\.deleted.deleted) == [0])
        #expect(try flows(ns, to: "192.0.2.30").count == 1)

        let reports = await cleaner.clean(snapshot(nodePort: 30053, [Endpoint(address: IPAddress("192.0.2.10")!, port: 5353)]))
        #expect(reports.map(\.deleted.deleted) == [1])
        try client.send("late", to: "192.0.2.30", port: 30053)
        #expect(endpoint.receive() == "late")
        #expect(try flows(ns, to: "192.0.2.30").map(\.reply.source) == [IPAddress("192.0.2.10")!])
    }

    /// Calls that arrive while a cleanup runs do not queue up: the running one takes the latest.
    @Test func overlappingSyncsCoalesce() async throws {
        let ns = try namespace()
        defer { ns.remove() }
        let cleaner = try cleaner(ns)
        let s = snapshot([Endpoint(address: IPAddress("192.0.2.11")!, port: 5353)])
        let sync = CompletedSync(previous: nil, snapshot: s, diff: SnapshotDiff(from: s, to: s), full: true)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<20 { group.addTask { await cleaner.synced(sync) } }
        }
        let (runs, coalesced) = cleaner.counts
        #expect(runs + coalesced >= 20)
        // Every call either started a cleanup or was folded into the running one's next round.
        #expect(runs >= 1 && runs <= 20)
    }

    /// Through `synced` (as the runner calls it): kube-proxy's reconciler metrics, per family.
    @Test func aSyncRecordsTheReconcilerMetrics() async throws {
        let ns = try namespace()
        defer { ns.remove() }
        // Two entries to the Service: one answered by its endpoint, one by an address that is none.
        try ConntrackTableFiller.insert(namespace: ns.name, count: 2) { i in
            .init(client: 0xC000_0214, clientPort: UInt16(40000 + i), destination: 0xC633_6401, destinationPort: 53,
                  replier: i == 0 ? 0xC000_020B : 0xC000_020A, replierPort: 5353)
        }
        let metrics = ProxyMetrics()
        let cleaner = ConntrackCleaner(conntrack: try Conntrack(networkNamespace: ns.name), metrics: metrics.sync,
                                       logger: Logger(label: "test"), families: [.ipv4, .ipv6])
        let s = snapshot([Endpoint(address: IPAddress("192.0.2.11")!, port: 5353)])
        await cleaner.synced(CompletedSync(previous: nil, snapshot: s, diff: SnapshotDiff(from: s, to: s), full: true))
        let text = metrics.render()
        #expect(text.contains(#"kubeproxy_conntrack_reconciler_deleted_entries_total{ip_family="IPv4"} 1"#))
        #expect(text.contains(#"kubeproxy_conntrack_reconciler_sync_duration_seconds_count{ip_family="IPv4"} 1"#))
        #expect(text.contains(#"kubeproxy_conntrack_reconciler_sync_duration_seconds_count{ip_family="IPv6"} 1"#))
        #expect(try flows(ns, to: "198.51.100.1").map(\.reply.source) == [IPAddress("192.0.2.11")!])
    }
}
