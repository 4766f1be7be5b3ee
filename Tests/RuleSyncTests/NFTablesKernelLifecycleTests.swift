import DataplaneScenarios
import NFTables
import ProxyModel
import Synchronization
import Testing
@testable import RuleSync

/// A real connection that can slip a command the kernel refuses into the next batch.
final class SabotagingTransport: NFTablesTransport {
    let connection: NFTConnection
    let sabotageNext = Mutex(false)

    init(_ connection: NFTConnection) { self.connection = connection }

    func apply(_ batch: NFTBatch) throws -> Int {
        var batch = batch
        if sabotageNext.withLock({ let s = $0; $0 = false; return s }) {
            batch.append(.deleteChain(.regular("no-such-chain", in: NFTablesNames.table(.ipv4))))
        }
        return try connection.apply(batch)
    }

    func contents(of table: NFTTable) throws -> NFTTableContents? { try connection.contents(of: table) }
    func deleteTableIfPresent(_ table: NFTTable) throws -> Bool { try connection.deleteTableIfPresent(table) }
}

/// Adoption after a restart, a refused batch, and `nft` reading our table, in a node namespace.
@Suite(.serialized, .enabled(if: Shell.canRunNamespaces, "needs root, ip netns and python3"))
struct NFTablesKernelLifecycleTests {
    typealias W = ScenarioWorld
    let db = ServicePortName(service: NamespacedName(namespace: "scenario", name: "db"), port: "", protocol: .tcp)

    func nft(_ topology: Topology, _ args: String...) throws -> String {
        try Shell.run(topology.nodeCommandPrefix + ["nft"] + args)
    }

    @Test func aRestartedBackendAdoptsTheTableAndDeletesWhatIsStale() throws {
        let topology = try Topology(pods: 2)
        defer { topology.teardown() }
        let path = "/run/netns/\(topology.node)"
        let config = RuleSyncConfig(clusterCIDRs: [Topology.clusterCIDR])
        let dbService = ServicePort(name: db, clusterIPs: [IPAddress("172.30.0.11")!], port: 5432, targetPort: .number(Topology.backendPort),
                                    sessionAffinity: .clientIP(timeoutSeconds: 60))
        let before = W.snapshot([(W.service(nodePort: W.nodePort), W.endpoints([1, 2])), (dbService, W.endpoints([2]))])
        _ = try NFTablesBackend(config: config, families: [.ipv4], networkNamespace: path).sync(before, changes: nil)
        let first = try nft(topology, "list", "table", "ip", "swift-kube-proxy")
        #expect(first.contains("chain affinity-pick-1-60 {"))
        #expect(first.contains("map affinity-60 {"))

        // A new process: same table, fewer Services and endpoints.
        let restarted = try NFTablesBackend(config: config, families: [.ipv4], networkNamespace: path)
        let after = W.snapshot([(W.service(nodePort: W.nodePort), W.endpoints([1]))])
        let report = try restarted.sync(after, changes: nil)
        #expect(report.full && report.chainsDeleted == 4)  // affinity-pick-1-60, affinity-remember-60, pick-2, nodeport-pick-2
        let listing = try nft(topology, "list", "table", "ip", "swift-kube-proxy")
        // Their dispatch sets too (`affinity-frontends-60` is checked below with the map).
        #expect(!listing.contains("service-ips-pick-2") && !listing.contains("service-nodeports-pick-2"))
        #expect(!listing.contains("/db/"))
        #expect(!listing.contains("dnat to 10.180.2.2:8080"))
        #expect(listing.contains(". 0 : 10.180.1.2 . 8080"))  // the endpoint map's slot 0 of the remaining Service
        #expect(!listing.contains("affinity-60"))
        #expect(listing.contains("jump service-ips"))
        #expect(listing.contains("ip daddr . meta l4proto . th dport @service-ips-pick-1 goto pick-1"))
        #expect(try nft(topology, "list", "ruleset").contains("table ip swift-kube-proxy"))
    }

    /// A table of our earlier layout (filter checks hooked at -110, before DNAT) is adopted: the
    /// base chains whose priority changed are replaced in the same transaction.
    @Test func aTableOfTheEarlierLayoutIsAdopted() throws {
        let topology = try Topology(pods: 1)
        defer { topology.teardown() }
        _ = try Shell.run(topology.nodeCommandPrefix + ["nft", "-f", "-"], input: """
        table ip swift-kube-proxy {
            chain filter-prerouting { type filter hook prerouting priority -110; policy accept; }
            chain filter-input { type filter hook input priority -110; policy accept; }
            chain filter-forward { type filter hook forward priority -110; policy accept; }
            chain filter-output { type filter hook output priority -110; policy accept; }
            chain filter-output-post-dnat { type filter hook output priority -90; policy accept; }
            chain nat-output { type nat hook output priority -100; policy accept; }
        }
        """)
        let backend = try NFTablesBackend(config: RuleSyncConfig(clusterCIDRs: [Topology.clusterCIDR]), families: [.ipv4],
                                          networkNamespace: "/run/netns/\(topology.node)")
        _ = try backend.sync(W.snapshot([(W.service(), W.endpoints([1]))]), changes: nil)
        let listing = try nft(topology, "list", "table", "ip", "swift-kube-proxy")
        #expect(listing.contains("chain filter-input {\n\t\ttype filter hook input priority filter; policy accept;"))
        #expect(listing.contains("chain filter-output-pre-dnat"))
        #expect(!listing.contains("filter-output-post-dnat") && !listing.contains("chain filter-prerouting {"))
        #expect(try topology.probe(from: .podClient, Probe(.tcp, W.clusterIP, W.servicePort)) == [.answered(server: Topology.podAddress(1), peer: Topology.podClientAddress)])
    }

    /// A table of the verdict-map layout (before `NFTablesDispatch`): its maps go once no rule
    /// reads them, before the chain their elements go to (`reject-chain`), in one transaction.
    @Test func aTableOfTheVerdictMapLayoutIsAdopted() throws {
        let topology = try Topology(pods: 1)
        defer { topology.teardown() }
        _ = try Shell.run(topology.nodeCommandPrefix + ["nft", "-f", "-"], input: """
        table ip swift-kube-proxy {
            set firewall-allow { type ipv4_addr . inet_proto . inet_service . ipv4_addr; flags interval; }
            map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }
            map no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict; }
            chain reject-chain { reject; }
            chain pick-1 { }
            chain services { ip daddr . meta l4proto . th dport vmap @service-ips; }
            chain service-endpoints-check { ip daddr . meta l4proto . th dport vmap @no-endpoint-services; }
            chain nat-output { type nat hook output priority -100; policy accept; jump services; }
            chain filter-output { type filter hook output priority 0; policy accept; ct state new jump service-endpoints-check; }
        }
        add element ip swift-kube-proxy service-ips { 172.30.0.10 . tcp . 80 : goto pick-1 }
        add element ip swift-kube-proxy no-endpoint-services { 172.30.0.99 . tcp . 80 : goto reject-chain }
        """)
        let backend = try NFTablesBackend(config: RuleSyncConfig(clusterCIDRs: [Topology.clusterCIDR]), families: [.ipv4],
                                          networkNamespace: "/run/netns/\(topology.node)")
        _ = try backend.sync(W.snapshot([(W.service(), W.endpoints([1]))]), changes: nil)
        let listing = try nft(topology, "list", "table", "ip", "swift-kube-proxy")
        #expect(!listing.contains("map service-ips {") && !listing.contains("map no-endpoint-services {") && !listing.contains("reject-chain"))
        #expect(listing.contains("chain service-ips {"))
        #expect(try topology.probe(from: .podClient, Probe(.tcp, W.clusterIP, W.servicePort)) == [.answered(server: Topology.podAddress(1), peer: Topology.podClientAddress)])
    }

    /// `nft list` must print our table in a form nft reads back (a backup restored with `nft -f`
    /// gives the same table): typeof maps, offsets, comments and all.
    @Test func nftReadsBackTheTableItLists() throws {
        let topology = try Topology(pods: 2)
        defer { topology.teardown() }
        let affinity = ServicePort(name: db, clusterIPs: [IPAddress("172.30.0.11")!], port: 5432, targetPort: .number(Topology.backendPort),
                                   sessionAffinity: .clientIP(timeoutSeconds: 60))
        // Source ranges of two prefix lengths: masked sources in concatenations.
        let lb = W.service(nodePort: W.nodePort, loadBalancerIPs: [IPAddress("192.0.2.10")!], sourceRanges: [CIDR("198.51.100.0/24")!, CIDR("203.0.113.7/32")!])
        let snapshot = W.snapshot([(lb, W.endpoints([1, 2])), (affinity, W.endpoints([2]))])
        _ = try NFTablesBackend(config: RuleSyncConfig(clusterCIDRs: [Topology.clusterCIDR]), families: [.ipv4],
                                networkNamespace: "/run/netns/\(topology.node)").sync(snapshot, changes: nil)
        let listed = try nft(topology, "list", "table", "ip", "swift-kube-proxy")
        #expect(listed.contains("ip daddr . meta l4proto . th dport . ip saddr & 255.255.255.0 @firewall-allow-24 accept"))
        #expect(listed.contains("ip daddr . meta l4proto . th dport . ip saddr @firewall-allow-32 accept"))
        #expect(listed.contains("typeof ip daddr . meta l4proto . th dport . numgen inc mod 1 : ip daddr . th dport"))
        #expect(listed.contains("numgen inc mod 2 map @service-endpoints"))
        _ = try nft(topology, "delete", "table", "ip", "swift-kube-proxy")
        _ = try Shell.run(topology.nodeCommandPrefix + ["nft", "-f", "-"], input: listed)
        #expect(try nft(topology, "list", "table", "ip", "swift-kube-proxy") == listed)
    }

    @Test func anEndpointReachingItselfThroughItsServiceIsMasqueraded() throws {
        let topology = try Topology(pods: 1)
        defer { topology.teardown() }
        let backend = try NFTablesBackend(config: RuleSyncConfig(clusterCIDRs: [Topology.clusterCIDR]), families: [.ipv4],
                                          networkNamespace: "/run/netns/\(topology.node)")
        _ = try backend.sync(W.snapshot([(W.service(), W.endpoints([1]))]), changes: nil)
        let client = "import socket; s = socket.create_connection(('172.30.0.10', 80), timeout=3); print(s.recv(100).decode().strip())"
        let answer = try Shell.run(["ip", "netns", "exec", topology.pods[0], "python3", "-c", client])
        // The pod answered itself, and saw the node as the source (hairpin masquerade).
        #expect(answer.trimmingCharacters(in: .whitespacesAndNewlines) == "10.180.1.2 10.180.1.1")
    }

    @Test func bothFamiliesAreProgrammedByDefault() throws {
        let topology = try Topology(pods: 1)
        defer { topology.teardown() }
        let backend = try NFTablesBackend(config: RuleSyncConfig(clusterCIDRs: [Topology.clusterCIDR, CIDR("fd00:180::/48")!]),
                                          networkNamespace: "/run/netns/\(topology.node)")
        let v6 = ServicePortName(service: NamespacedName(namespace: "scenario", name: "v6"), port: "http", protocol: .tcp)
        let dual = ServicePort(name: v6, clusterIPs: [IPAddress("172.30.0.20")!, IPAddress("fd00:30::20")!], port: 80,
                               nodePort: 30081, sessionAffinity: .clientIP(timeoutSeconds: 30))
        let eps = [Endpoint(address: IPAddress("10.180.1.2")!, port: 8080), Endpoint(address: IPAddress("fd00:180::2")!, port: 8080)]
        let empty = ServicePort(name: W.name, clusterIPs: [IPAddress("fd00:30::21")!], port: 80, nodePort: 30082)
        var snapshot = ProxySnapshot(node: W.node)
        snapshot.servicePorts[v6] = dual
        snapshot.endpoints[v6] = eps
        snapshot.servicePorts[W.name] = empty
        let report = try backend.sync(snapshot, changes: nil)
        #expect(report.totalRules.keys.sorted() == ["ip swift-kube-proxy", "ip6 swift-kube-proxy"])
        let ip6 = try nft(topology, "list", "table", "ip6", "swift-kube-proxy")
        // The affinity Service's endpoint is an element of the endpoint map (no chain of its own).
        #expect(ip6.contains(": fd00:180::2 . 8080"))
        #expect(ip6.contains("fd00:30::21 . tcp . 80"))
        #expect(ip6.contains("ip6 daddr . meta l4proto . th dport @service-ips-affinity-pick-1-30 goto affinity-pick-1-30"))
        #expect(ip6.contains("chain affinity-pick-1-30 {") && ip6.contains("chain affinity-remember-30 {") && ip6.contains("map nodeport-affinity-30 {"))
        let ip4 = try nft(topology, "list", "table", "ip", "swift-kube-proxy")
        #expect(ip4.contains(": 10.180.1.2 . 8080") && !ip4.contains("fd00"))
        try backend.cleanup()
        #expect(!(try nft(topology, "list", "tables")).contains("swift-kube-proxy"))
    }

    @Test func aRefusedBatchLeavesThePreviousRulesAndTheNextSyncIsFull() throws {
        let topology = try Topology(pods: 2)
        defer { topology.teardown() }
        let transport = SabotagingTransport(try NFTConnection(networkNamespace: "/run/netns/\(topology.node)"))
        let backend = NFTablesBackend(config: RuleSyncConfig(clusterCIDRs: [Topology.clusterCIDR]), families: [.ipv4], transport: transport)
        let one = W.snapshot([(W.service(), W.endpoints([1]))])
        _ = try backend.sync(one, changes: nil)
        let listed = try nft(topology, "list", "table", "ip", "swift-kube-proxy")

        let two = W.snapshot([(W.service(), W.endpoints([2]))])
        transport.sabotageNext.withLock { $0 = true }
        do {
            _ = try backend.sync(two, changes: SnapshotDiff(from: one, to: two))
            Issue.record("the sabotaged batch was accepted")
        } catch let error as NFTError {
            #expect("\(error)".contains("delete chain ip swift-kube-proxy no-such-chain"))
        }
        #expect(try nft(topology, "list", "table", "ip", "swift-kube-proxy") == listed, "nothing of the refused batch applied")

        let report = try backend.sync(two, changes: SnapshotDiff(from: one, to: two))
        #expect(report.full)
        let now = try nft(topology, "list", "table", "ip", "swift-kube-proxy")
        #expect(now.contains("0 : 10.180.2.2 . 8080"))
        #expect(!now.contains("10.180.1.2 . 8080"))
    }
}
