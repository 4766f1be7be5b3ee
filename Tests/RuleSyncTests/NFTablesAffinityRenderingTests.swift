import NFTables
import ProxyModel
import Testing
@testable import RuleSync

/// ClientIP affinity in the flat ruleset: shared chains per (kind, endpoint count, timeout), one
/// timed map per timeout, traced through the rendered model.
@Suite struct NFTablesAffinityRenderingTests {
    typealias F = Fixture
    let web = F.name("ns1", "web")
    let eps = [F.endpoint("10.180.0.1"), F.endpoint("10.180.0.2")]

    func affinityServices(_ count: Int, seconds: Int = 600) -> ProxySnapshot {
        F.snapshot((0..<count).map { i in
            (F.service(F.name("ns1", "svc\(i)"), "172.30.1.\(i + 1)", nodePort: 30000 + i, affinity: .clientIP(timeoutSeconds: seconds)),
             [F.endpoint("10.180.1.\(i + 1)"), F.endpoint("10.180.2.\(i + 1)")])
        })
    }

    @Test func noChainPerServiceAndTheChainCountDoesNotGrowWithAffinityServices() {
        let one = F.nftRuleset(affinityServices(1)), many = F.nftRuleset(affinityServices(50))
        #expect(one.chainNames == many.chainNames)
        #expect(many.services.values.allSatisfy { $0.chains.isEmpty && $0.sets.isEmpty })
        // Beside the chains of a table without Services: the two shared affinity picks.
        let none = F.nftRuleset(F.snapshot([]))
        #expect(many.chainNames.subtracting(none.chainNames)
            == ["affinity-pick-2-600", "nodeport-affinity-pick-2-600", "affinity-remember-600", "nodeport-affinity-remember-600"])
        // One timed map per kind and timeout, whatever the number of Services.
        #expect(many.affinityMaps.map(\.name) == ["affinity-600", "nodeport-affinity-600"])
        #expect(many.setNames.count == one.setNames.count)
        // Each frontend's endpoints are what its remembered entries are checked against.
        #expect(many.elements(of: NFTablesNames.affinityEndpoints).count == 100)
        #expect(many.elements(of: NFTablesNames.nodePortAffinityEndpoints).count == 100)
    }

    @Test func aNewTimeoutIsANewMapAndChainNotAChainPerService() {
        let snapshot = F.snapshot([
            (F.service(web, "172.30.0.41", affinity: .clientIP(timeoutSeconds: 10)), eps),
            (F.service(F.name("ns1", "db"), "172.30.0.42", affinity: .clientIP(timeoutSeconds: 20)), eps),
        ])
        let ruleset = F.nftRuleset(snapshot)
        #expect(ruleset.affinityMaps.map(\.name) == ["affinity-10", "affinity-20"])
        #expect(ruleset.affinityMaps.map(\.timeout) == [.seconds(10), .seconds(20)])
        #expect(ruleset.picks.keys.map(\.chainName).sorted() == ["affinity-pick-2-10", "affinity-pick-2-20", "affinity-remember-10", "affinity-remember-20"])
        // Each frontend in its timeout's dispatch set, read by one rule per protocol that goes to the remember chain.
        #expect(ruleset.elements(of: "affinity-frontends-10").count == 1)
        #expect(ruleset.elements(of: "affinity-frontends-20").count == 1)
        #expect(ruleset.chains.first { $0.name == "affinity-frontends" }!.rules.map { $0.description.components(separatedBy: " ").last! }
            == ["affinity-remember-10", "affinity-remember-10", "affinity-remember-10", "affinity-remember-20", "affinity-remember-20", "affinity-remember-20"])
    }

    @Test func aStaleEntryIsDeletedAndItsFirstPacketDroppedSoTheRetryPicks() {
        var t = F.nftTracer(F.snapshot([(F.service(web, "172.30.0.41", affinity: .clientIP(timeoutSeconds: 600)), eps)]))
        t.remember("10.0.1.5", to: "172.30.0.41", port: 80, endpoint: "10.180.0.9", endpointPort: 8080, seconds: 600)
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == [.init(verdict: .drop, dnat: "10.180.0.9:8080", masqueraded: false)])
        // The same endpoint address on another port is another endpoint too.
        t.remember("10.0.1.5", to: "172.30.0.41", port: 80, endpoint: "10.180.0.1", endpointPort: 9090, seconds: 600)
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == [.init(verdict: .drop, dnat: "10.180.0.1:9090", masqueraded: false)])
        // An entry that is still one of the frontend's endpoints is used and refreshed.
        t.remember("10.0.1.5", to: "172.30.0.41", port: 80, endpoint: "10.180.0.2", endpointPort: 8080, seconds: 600)
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == .dnat("10.180.0.2:8080", updates: ["affinity-600"]))
        // Once deleted (what the drop did), the retry picks.
        t.affinity = [:]
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == .dnat("10.180.0.1:8080", "10.180.0.2:8080", updates: ["affinity-600"]))
    }

    /// A ClusterIP port may have the number of another Service's affinity NodePort: its
    /// connections are not that NodePort's, whose remember chain would take the ClusterIP's
    /// endpoint for a stale one and drop every first packet.
    @Test func aClusterIPPortWithAnAffinityNodePortsNumberIsNotRemembered() {
        let plain = F.service(F.name("ns1", "plain"), "172.30.0.42", port: 30080)
        let sticky = F.service(web, "172.30.0.41", nodePort: 30080, affinity: .clientIP(timeoutSeconds: 60))
        let t = F.nftTracer(F.snapshot([(plain, [F.endpoint("10.180.3.1")]), (sticky, eps)]))
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.42", port: 30080) == .dnat("10.180.3.1:8080"))
        #expect(t.trace(from: "203.0.113.9", to: F.nodeIP.description, port: 30080)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080", masquerade: true, updates: ["nodeport-affinity-60"]))
    }

    @Test func nodePortWithPolicyLocalSticksToLocalEndpointsFromOutsideAndAnyFromPods() {
        let local = [F.endpoint("10.180.0.1", local: true), F.endpoint("10.180.0.2"), F.endpoint("10.180.0.3", local: true)]
        let svc = F.service(web, "172.30.0.41", nodePort: 30080, affinity: .clientIP(timeoutSeconds: 60), externalPolicy: .local)
        var t = F.nftTracer(F.snapshot([(svc, local)]))
        #expect(t.trace(from: "203.0.113.9", to: F.nodeIP.description, port: 30080)
            == .dnat("10.180.0.1:8080", "10.180.0.3:8080", updates: ["nodeport-affinity-60"]))
        #expect(t.trace(from: "10.0.1.5", to: F.nodeIP.description, port: 30080)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080", "10.180.0.3:8080", updates: ["nodeport-affinity-60"]))
        t.remember("203.0.113.9", to: F.nodeIP.description, port: 30080, nodePort: true, endpoint: "10.180.0.3", endpointPort: 8080, seconds: 60)
        #expect(t.trace(from: "203.0.113.9", to: F.nodeIP.description, port: 30080) == .dnat("10.180.0.3:8080", updates: ["nodeport-affinity-60"]))
        // The ClusterIP is another frontend: its own entry.
        #expect(t.trace(from: "203.0.113.9", to: "172.30.0.41", port: 80).count == 3)
    }

    @Test func ipv6AffinityUsesItsOwnMapAndRegisters() {
        let name = F.name("ns1", "v6")
        let svc = ServicePort(name: name, clusterIPs: [IPAddress("fd00:30::41")!], port: 80, nodePort: 30080, sessionAffinity: .clientIP(timeoutSeconds: 30))
        let v6 = [Endpoint(address: IPAddress("fd00:180::1")!, port: 8080), Endpoint(address: IPAddress("fd00:180::2")!, port: 8080)]
        let config = RuleSyncConfig(clusterCIDRs: [CIDR("fd00::/16")!])
        let ruleset = F.nftRuleset(F.snapshot([(svc, v6)]), config: config, family: .ipv6)
        #expect(ruleset.affinityMaps.map(\.keyType) == [.concat(.ipv6Addr, .ipv6Addr, .inetProto, .inetService), .concat(.ipv6Addr, .inetProto, .inetService)])
        var t = NFTablesTracer(ruleset, localAddresses: [IPAddress("fd00:1::2")!])
        #expect(t.trace(from: "fd00:1::5", to: "fd00:30::41", port: 80) == .dnat("fd00:180::1:8080", "fd00:180::2:8080", updates: ["affinity-30"]))
        t.remember("fd00:1::5", to: "fd00:30::41", port: 80, endpoint: "fd00:180::2", endpointPort: 8080, seconds: 30)
        #expect(t.trace(from: "fd00:1::5", to: "fd00:30::41", port: 80) == .dnat("fd00:180::2:8080", updates: ["affinity-30"]))
        t.remember("fd00:1::7", to: "fd00:1::2", port: 30080, nodePort: true, endpoint: "fd00:180::1", endpointPort: 8080, seconds: 30)
        #expect(t.trace(from: "fd00:1::7", to: "fd00:1::2", port: 30080) == .dnat("fd00:180::1:8080", masquerade: true, updates: ["nodeport-affinity-30"]))
    }

    @Test func randomPickWithAffinityReachesEveryEndpoint() {
        let config = RuleSyncConfig(clusterCIDRs: [CIDR("10.0.0.0/8")!], endpointPick: .random)
        let t = F.nftTracer(F.snapshot([(F.service(web, "172.30.0.41", affinity: .clientIP(timeoutSeconds: 600)), eps)]), config: config)
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == .dnat("10.180.0.1:8080", "10.180.0.2:8080", updates: ["affinity-600"]))
        let chain = F.nftRuleset(F.snapshot([(F.service(web, "172.30.0.41", affinity: .clientIP(timeoutSeconds: 600)), eps)]), config: config)
            .picks[NFTablesPick(nodePort: false, local: false, endpoints: 2, affinitySeconds: 600)]!
        #expect(chain.chain!.rules[1].expressions.contains(.numgen(.random, modulus: 2, offset: 0, into: .word(3))))
    }

    @Test func anIncrementalSyncDeletesARemovedEndpointsValidityAndAddsTheMapOnlyForANewPick() {
        let before = F.snapshot([(F.service(web, "172.30.0.41", affinity: .clientIP(timeoutSeconds: 600)), eps)])
        let after = F.snapshot([(F.service(web, "172.30.0.41", affinity: .clientIP(timeoutSeconds: 600)), [eps[1], F.endpoint("10.180.0.3")])])
        let renderer = NFTablesRenderer(config: F.config, family: .ipv4)
        let applied = F.nftRuleset(before)
        let changed = F.nftRuleset(after).services[web]!
        let t = NFTablesTransaction.incremental(from: applied, changes: [web: changed], renderer: renderer)
        let commands = t.batch.commands.map(\.description)
        #expect(commands.contains("delete element ip swift-kube-proxy affinity-endpoints { 1 element }"))
        #expect(commands.contains("add element ip swift-kube-proxy affinity-endpoints { 1 element }"))
        #expect(!commands.contains { $0.contains("affinity-600") || $0.contains("chain") })
    }
}
