import NFTables
import ProxyModel
import Synchronization
import Testing
@testable import RuleSync

/// Records batches instead of sending them; can refuse one, and says what a table holds.
final class RecordingTransport: NFTablesTransport {
    struct State {
        var batches: [NFTBatch] = []
        var listings: [NFTTable] = []
        var deleted: [NFTTable] = []
        var failNext = false
        var contents: [NFTTable: NFTTableContents] = [:]
    }

    let state = Mutex(State())

    func apply(_ batch: NFTBatch) throws -> Int {
        try state.withLock { s in
            if s.failNext {
                s.failNext = false
                throw NFTError.commandFailed(index: 3, command: batch.commands[min(3, batch.commands.count - 1)].description, errno: 22)
            }
            s.batches.append(batch)
            return batch.commands.count * 100
        }
    }

    func contents(of table: NFTTable) throws -> NFTTableContents? {
        state.withLock { s in
            s.listings.append(table)
            return s.contents[table]
        }
    }

    func deleteTableIfPresent(_ table: NFTTable) throws -> Bool {
        state.withLock { $0.deleted.append(table) }
        return true
    }

    var batches: [NFTBatch] { state.withLock { $0.batches } }
    var lastBatch: [String] { state.withLock { $0.batches.last?.commands.map(\.description) ?? [] } }
    var listings: Int { state.withLock { $0.listings.count } }
}

@Suite struct NFTablesIncrementalTests {
    typealias F = Fixture
    typealias N = NFTablesNames
    let web = F.name("ns1", "web")
    let db = F.name("ns1", "db")
    let eps = [F.endpoint("10.180.0.1"), F.endpoint("10.180.0.2")]

    func twoServices(webEndpoints: [Endpoint]) -> ProxySnapshot {
        F.snapshot([(F.service(web, "172.30.0.41", nodePort: 30080), webEndpoints),
                    (F.service(db, "172.30.0.42"), [F.endpoint("10.180.1.1")])])
    }

    func backend() -> (NFTablesBackend, RecordingTransport) {
        let transport = RecordingTransport()
        return (NFTablesBackend(config: F.config, families: [.ipv4], transport: transport), transport)
    }

    @Test func firstSyncIsFullAndAdoptsTheTable() throws {
        let (backend, transport) = backend()
        transport.state.withLock {
            $0.contents[N.table(.ipv4)] = NFTTableContents(table: N.table(.ipv4), chains: ["services", "service-OLDHASH-ns1/gone/tcp/p80"],
                                                           sets: ["service-ips", "firewall-allow", "affinity-OLDHASH-ns1/gone/tcp/p80__10.1.1.1/80"])
        }
        let report = try backend.sync(twoServices(webEndpoints: eps), changes: nil)
        #expect(report.full)
        #expect(transport.listings == 1)
        let commands = transport.lastBatch
        #expect(commands.prefix(2) == ["add table ip swift-kube-proxy", "flush table ip swift-kube-proxy"])
        #expect(commands.contains("delete chain ip swift-kube-proxy service-OLDHASH-ns1/gone/tcp/p80"))
        #expect(commands.contains("delete set ip swift-kube-proxy affinity-OLDHASH-ns1/gone/tcp/p80__10.1.1.1/80"))
        #expect(!commands.contains { $0.hasPrefix("delete chain ip swift-kube-proxy services") })
        #expect(commands.contains("add chain ip swift-kube-proxy nat-prerouting { type nat hook prerouting priority -100; policy accept; }"))
        #expect(commands.contains("add chain ip swift-kube-proxy filter-forward { type filter hook forward priority 0; policy accept; }"))
        #expect(report.rulesWritten == report.totalRules["ip swift-kube-proxy"])
        #expect(report.bytesWritten == commands.count * 100)
    }

    @Test func oneEndpointReplacedSendsOnlyMapElements() throws {
        let (backend, transport) = backend()
        let before = twoServices(webEndpoints: eps)
        _ = try backend.sync(before, changes: nil)
        let after = twoServices(webEndpoints: [eps[0], F.endpoint("10.180.0.3")])
        let report = try backend.sync(after, changes: SnapshotDiff(from: before, to: after))
        #expect(!report.full)
        #expect(transport.listings == 1, "a normal sync never reads the table")
        // As many endpoints as before: the frontends' slot 1 (ClusterIP and NodePort) gets the new
        // endpoint, and the hairpin set follows the endpoint addresses. No rule, no chain: no
        // revalidation of the table's chains in the kernel.
        #expect(transport.lastBatch.sorted() == [
            "add element ip swift-kube-proxy hairpin-endpoints { 1 element }",
            "add element ip swift-kube-proxy nodeport-endpoints { 1 element }",
            "add element ip swift-kube-proxy service-endpoints { 1 element }",
            "delete element ip swift-kube-proxy hairpin-endpoints { 1 element }",
            "delete element ip swift-kube-proxy nodeport-endpoints { 1 element }",
            "delete element ip swift-kube-proxy service-endpoints { 1 element }",
        ])
        #expect(report.rulesWritten == 0 && report.chainsDeleted == 0)
        let applied = backend.appliedRuleset(.ipv4)!
        let frontend = NFTValue.concat(NFTValue(ipv4: "172.30.0.41")!, .proto(.tcp), .port(80))
        let values = applied.elements(of: N.serviceEndpoints).filter { $0.key == .concat(frontend, .integer(0)) || $0.key == .concat(frontend, .integer(1)) }
        #expect(Set(values.compactMap(\.value)) == [.data(.concat(NFTValue(ipv4: "10.180.0.1")!, .port(8080))),
                                                     .data(.concat(NFTValue(ipv4: "10.180.0.3")!, .port(8080)))])
        #expect(report.totalRules["ip swift-kube-proxy"] == applied.ruleCount)
    }

    @Test func aNewEndpointCountAddsItsPickChainOnce() throws {
        let (backend, transport) = backend()
        let before = twoServices(webEndpoints: eps)
        _ = try backend.sync(before, changes: nil)
        let after = twoServices(webEndpoints: eps + [F.endpoint("10.180.0.3")])
        let report = try backend.sync(after, changes: SnapshotDiff(from: before, to: after))
        let commands = transport.lastBatch
        // Three endpoints: the shared `pick-3` chains (ClusterIP and NodePort) are new, with their
        // dispatch sets and rules; the frontends move to those sets, and the third slot is filled.
        // No chain is flushed.
        #expect(commands.filter { $0.hasPrefix("add chain") }.sorted() == ["add chain ip swift-kube-proxy nodeport-pick-3",
                                                                          "add chain ip swift-kube-proxy pick-3"])
        let rules = commands.filter { $0.hasPrefix("add rule ") }
        #expect(rules.contains("add rule ip swift-kube-proxy pick-3 dnat ip to ip daddr . meta l4proto . th dport . numgen inc mod 3 map @service-endpoints"))
        #expect(!commands.contains { $0.hasPrefix("flush") || $0.hasPrefix("delete chain") || $0.contains("/db/") })
        #expect(commands.contains("add element ip swift-kube-proxy service-endpoints { 1 element }"))
        #expect(commands.contains("delete element ip swift-kube-proxy service-ips-pick-2 { 1 element }"))
        #expect(commands.contains("add element ip swift-kube-proxy service-ips-pick-3 { 1 element }"))
        #expect(rules.contains("add rule ip swift-kube-proxy service-ips ip daddr . meta l4proto . th dport @service-ips-pick-3 goto pick-3"))
        #expect(report.rulesWritten == 6)  // per kind: the pick, and its rules in service-… and cluster-fallback-…
        // The next Service with three endpoints needs no rule at all.
        var third = after
        third.endpoints[db] = [F.endpoint("10.180.1.1"), F.endpoint("10.180.1.2"), F.endpoint("10.180.1.3")]
        let next = try backend.sync(third, changes: SnapshotDiff(from: after, to: third))
        #expect(next.rulesWritten == 0 && !transport.lastBatch.contains { $0.contains("chain") })
    }

    @Test func theChainCountDoesNotGrowWithServices() {
        func chains(_ n: Int) -> Int {
            let snapshot = F.snapshot((0..<n).map { i in
                (F.service(F.name("ns", "s\(i)"), "172.30.\(i / 250).\(i % 250 + 1)", nodePort: i % 2 == 0 ? 30000 + i : 0), eps)
            })
            return F.nftRuleset(snapshot).chainNames.count
        }
        #expect(chains(10) == chains(1000))
    }

    @Test func removedServiceDeletesItsChainsAndElements() throws {
        let (backend, transport) = backend()
        let before = twoServices(webEndpoints: eps)
        _ = try backend.sync(before, changes: nil)
        let after = F.snapshot([(F.service(db, "172.30.0.42"), [F.endpoint("10.180.1.1")])])
        _ = try backend.sync(after, changes: SnapshotDiff(from: before, to: after))
        let commands = transport.lastBatch
        #expect(!commands.contains { $0.contains("chain") }, "no chain of its own, and the shared ones stay")
        #expect(commands.contains("delete element ip swift-kube-proxy service-ips-pick-2 { 1 element }"))
        #expect(commands.contains("delete element ip swift-kube-proxy service-endpoints { 2 elements }"))
        #expect(commands.contains("delete element ip swift-kube-proxy nodeport-endpoints { 2 elements }"))
        #expect(commands.contains("delete element ip swift-kube-proxy masquerade-nodeports { 1 element }"))
        #expect(commands.contains("delete element ip swift-kube-proxy service-nodeports-pick-2 { 1 element }"))
        #expect(commands.contains("delete element ip swift-kube-proxy cluster-ips { 1 element }"))
        #expect(commands.contains("delete element ip swift-kube-proxy hairpin-endpoints { 2 elements }"))
        #expect(!commands.contains { $0.hasPrefix("add") })
        #expect(backend.appliedRuleset(.ipv4)!.elements(of: "service-ips-pick-1").count == 1)
    }

    @Test func aClusterIPSharedByTwoPortsStaysWhileOneIsLeft() throws {
        let (backend, transport) = backend()
        let https = F.name("ns1", "web", "p443")
        let both = F.snapshot([(F.service(web, "172.30.0.41"), eps), (F.service(https, "172.30.0.41", port: 443), eps)])
        _ = try backend.sync(both, changes: nil)
        #expect(backend.appliedRuleset(.ipv4)!.elements(of: N.clusterIPs).count == 1)
        let one = F.snapshot([(F.service(web, "172.30.0.41"), eps)])
        _ = try backend.sync(one, changes: SnapshotDiff(from: both, to: one))
        #expect(!transport.lastBatch.contains("delete element ip swift-kube-proxy cluster-ips { 1 element }"))
        #expect(transport.lastBatch.contains("delete element ip swift-kube-proxy service-ips-pick-2 { 1 element }"))
        #expect(backend.appliedRuleset(.ipv4)!.elements(of: N.clusterIPs).count == 1)
    }

    /// Source ranges are plain hash-set elements, one set per prefix length: an interval set of
    /// concatenations (pipapo) copies its whole table at every commit that changes it.
    @Test func sourceRangesAreElementsOfASetPerPrefixLength() throws {
        let (backend, transport) = backend()
        let lb = F.service(F.name("ns1", "lb"), "172.30.0.43", lbIPs: ["192.0.2.10"], sourceRanges: ["198.51.100.0/24", "203.0.113.0/24"])
        let before = twoServices(webEndpoints: eps)
        _ = try backend.sync(before, changes: nil)
        var after = before
        after.servicePorts[lb.name] = lb
        after.endpoints[lb.name] = eps
        _ = try backend.sync(after, changes: SnapshotDiff(from: before, to: after))
        #expect(transport.lastBatch.contains("add set ip swift-kube-proxy firewall-allow-24 { type ipv4_addr . inet_proto . inet_service . ipv4_addr; }"))
        #expect(transport.lastBatch.contains("add element ip swift-kube-proxy firewall-allow-24 { 2 elements }"))
        // A second Service with /24 ranges adds elements only.
        let other = F.service(F.name("ns1", "lb2"), "172.30.0.44", lbIPs: ["192.0.2.11"], sourceRanges: ["10.9.9.0/24"])
        var third = after
        third.servicePorts[other.name] = other
        third.endpoints[other.name] = eps
        _ = try backend.sync(third, changes: SnapshotDiff(from: after, to: third))
        #expect(transport.lastBatch.contains("add element ip swift-kube-proxy firewall-allow-24 { 1 element }"))
        #expect(!transport.lastBatch.contains { $0.hasPrefix("add rule") || $0.hasPrefix("add set") || $0.hasPrefix("add chain") })
    }

    @Test func goingToNoEndpointsSwapsTheServiceElementForAReject() throws {
        let (backend, transport) = backend()
        let before = twoServices(webEndpoints: eps)
        _ = try backend.sync(before, changes: nil)
        let after = twoServices(webEndpoints: [])
        _ = try backend.sync(after, changes: SnapshotDiff(from: before, to: after))
        let commands = transport.lastBatch
        #expect(commands.contains("add element ip swift-kube-proxy no-endpoint-services-reject { 1 element }"))
        #expect(commands.contains("add element ip swift-kube-proxy no-endpoint-nodeports-reject { 1 element }"))
        #expect(commands.contains("delete element ip swift-kube-proxy service-ips-pick-2 { 1 element }"))
        #expect(!commands.contains { $0.hasPrefix("add rule") || $0.hasPrefix("add chain") }, "a plain set element: nothing for the kernel to revalidate")
        #expect(backend.appliedRuleset(.ipv4)!.elements(of: N.noEndpointServicesReject).count == 1)
    }

    @Test func aFailedBatchIsRethrownAndTheNextSyncIsFull() throws {
        let (backend, transport) = backend()
        let before = twoServices(webEndpoints: eps)
        _ = try backend.sync(before, changes: nil)
        let applied = backend.appliedRuleset(.ipv4)
        let after = twoServices(webEndpoints: [eps[0]])
        transport.state.withLock { $0.failNext = true }
        #expect(throws: NFTError.self) { try backend.sync(after, changes: SnapshotDiff(from: before, to: after)) }
        // The model still says what the kernel has (the batch was refused whole).
        #expect(backend.appliedRuleset(.ipv4) == applied)
        let next = twoServices(webEndpoints: [eps[0], F.endpoint("10.180.0.9")])
        let report = try backend.sync(next, changes: SnapshotDiff(from: after, to: next))
        #expect(report.full)
        #expect(transport.listings == 2, "after a failure the table is read again")
        #expect(transport.lastBatch.contains("flush map ip swift-kube-proxy service-endpoints"))
        #expect(!transport.lastBatch.contains { $0.hasPrefix("delete chain") },
                "the listing (empty here) and the new model decide what is stale")
    }

    @Test func aPeriodicFullSyncReassertsWithoutReadingTheTable() throws {
        let (backend, transport) = backend()
        let before = twoServices(webEndpoints: eps)
        _ = try backend.sync(before, changes: nil)
        let after = F.snapshot([(F.service(db, "172.30.0.42"), [F.endpoint("10.180.1.1")])])
        let report = try backend.sync(after, changes: nil)
        #expect(report.full)
        #expect(transport.listings == 1)
        // Pick chains no Service uses any more, known from the applied model, are deleted.
        #expect(transport.lastBatch.contains("delete chain ip swift-kube-proxy pick-2"))
        #expect(transport.lastBatch.contains("delete chain ip swift-kube-proxy nodeport-pick-2"))
        #expect(!transport.lastBatch.contains("delete chain ip swift-kube-proxy pick-1"))
    }

    @Test func changingTheAffinityTimeoutMovesTheServiceToAnotherMapAndKeepsTheOld() throws {
        let (backend, transport) = backend()
        let before = F.snapshot([(F.service(web, "172.30.0.41", affinity: .clientIP(timeoutSeconds: 100)), eps)])
        _ = try backend.sync(before, changes: nil)
        #expect(transport.lastBatch.contains { $0.hasPrefix("add map ip swift-kube-proxy affinity-100 ") })
        #expect(!transport.lastBatch.contains { $0.hasPrefix("flush") && $0.contains("affinity-100") })
        let after = F.snapshot([(F.service(web, "172.30.0.41", affinity: .clientIP(timeoutSeconds: 200)), eps)])
        _ = try backend.sync(after, changes: SnapshotDiff(from: before, to: after))
        let commands = transport.lastBatch
        let map = try #require(commands.firstIndex { $0.hasPrefix("add map ip swift-kube-proxy affinity-200 ") })
        let chain = try #require(commands.firstIndex(of: "add chain ip swift-kube-proxy affinity-pick-2-200"))
        #expect(map < chain)
        // The old map stays (a full sync deletes it once no Service uses it); nothing is flushed.
        #expect(!commands.contains { $0.contains("affinity-100") })
        #expect(!commands.contains { $0.hasPrefix("flush") })
    }

    @Test func noLocalEndpointsAreCountedAndFollowIncrementalSyncs() throws {
        let (backend, _) = backend()
        let remote = F.snapshot([(F.service(web, "172.30.0.41", nodePort: 30080, externalPolicy: .local), eps)])
        let report = try backend.sync(remote, changes: nil)
        #expect(report.noLocalEndpointsExternal == 1 && report.noLocalEndpointsInternal == 0)
        let local = F.snapshot([(F.service(web, "172.30.0.41", nodePort: 30080, externalPolicy: .local), [F.endpoint("10.180.0.1", local: true)])])
        let next = try backend.sync(local, changes: SnapshotDiff(from: remote, to: local))
        #expect(!next.full && next.noLocalEndpoints == 0)
    }

    @Test func staleUDPFlowsAreDeletedAfterASuccessfulSync() throws {
        let runner = RecordingRunner()
        let transport = RecordingTransport()
        let backend = NFTablesBackend(config: F.config, families: [.ipv4], transport: transport,
                                      conntrack: ConntrackCleanup(runner: runner))
        let dns = F.name("kube-system", "dns", "dns", .udp)
        let before = F.snapshot([(F.service(dns, "172.30.0.10", port: 53), [F.endpoint("10.180.0.1"), F.endpoint("10.180.0.2")])])
        _ = try backend.sync(before, changes: nil)
        #expect(runner.conntrackCommands.isEmpty)
        let after = F.snapshot([(F.service(dns, "172.30.0.10", port: 53), [F.endpoint("10.180.0.1")])])
        transport.state.withLock { $0.failNext = true }
        #expect(throws: NFTError.self) { try backend.sync(after, changes: SnapshotDiff(from: before, to: after)) }
        #expect(runner.conntrackCommands.isEmpty, "the old rules are still in force")
        _ = try backend.sync(after, changes: SnapshotDiff(from: before, to: after))
        #expect(runner.conntrackCommands == [["conntrack", "-D", "-f", "ipv4", "-p", "udp", "--orig-dst", "172.30.0.10", "--reply-src", "10.180.0.2"]])
    }

    @Test func aTableOfTheOldLayoutIsReplacedInOneTransaction() throws {
        let (backend, transport) = backend()
        transport.state.withLock {
            $0.contents[N.table(.ipv4)] = NFTTableContents(table: N.table(.ipv4), chains: ["services", "service-OLDHASH-ns1/web/tcp/p80"],
                                                           sets: ["service-ips", "firewall-ips", "service-endpoints-0"])
        }
        _ = try backend.sync(twoServices(webEndpoints: eps), changes: nil)
        let commands = transport.lastBatch
        #expect(commands.prefix(4) == ["add table ip swift-kube-proxy", "delete table ip swift-kube-proxy",
                                       "add table ip swift-kube-proxy", "flush table ip swift-kube-proxy"])
        #expect(!commands.contains { $0.hasPrefix("delete chain") || $0.hasPrefix("delete set") })
    }

    @Test func cleanupDeletesOnlyOurTables() throws {
        let transport = RecordingTransport()
        let backend = NFTablesBackend(config: F.config, transport: transport)
        try backend.cleanup()
        #expect(transport.state.withLock { $0.deleted } == [NFTTable(family: .ip, name: "swift-kube-proxy"), NFTTable(family: .ip6, name: "swift-kube-proxy")])
    }
}
