import NFTables
import ProxyModel
import Testing
@testable import RuleSync

extension Fixture {
    static func nftRuleset(_ snapshot: ProxySnapshot, config: RuleSyncConfig = config, family: IPAddress.Family = .ipv4) -> NFTablesRuleset {
        NFTablesRuleset(plan: ForwardingPlan(snapshot: snapshot, config: config, family: family),
                        renderer: NFTablesRenderer(config: config, family: family))
    }

    static func nftTracer(_ snapshot: ProxySnapshot, config: RuleSyncConfig = config, family: IPAddress.Family = .ipv4,
                          local: Set<IPAddress> = [nodeIP, IPAddress("127.0.0.1")!]) -> NFTablesTracer {
        NFTablesTracer(nftRuleset(snapshot, config: config, family: family), localAddresses: local)
    }
}

/// Packets traced through the rendered nftables model: each test says where a connection ends up.
@Suite struct NFTablesPacketTraceTests {
    typealias F = Fixture
    let web = F.name("ns1", "svc1")
    let twoEndpoints = [F.endpoint("10.180.0.1"), F.endpoint("10.180.0.2")]

    @Test func clusterIPFromAPodIsDNATedToOneOfTheEndpoints() {
        let t = F.nftTracer(F.snapshot([(F.service(web, "172.30.0.41"), twoEndpoints)]))
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == .dnat("10.180.0.1:8080", "10.180.0.2:8080"))
    }

    @Test func clusterIPFromOffClusterIsMasqueraded() {
        let t = F.nftTracer(F.snapshot([(F.service(web, "172.30.0.41"), twoEndpoints)]))
        #expect(t.trace(from: "203.0.113.9", to: "172.30.0.41", port: 80)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080", masquerade: true))
    }

    @Test func masqueradeAllMasqueradesPodsToo() {
        let config = RuleSyncConfig(clusterCIDRs: [CIDR("10.0.0.0/8")!], masqueradeAll: true)
        let t = F.nftTracer(F.snapshot([(F.service(web, "172.30.0.41"), twoEndpoints)]), config: config)
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080", masquerade: true))
    }

    @Test func hairpinIsMasqueradedOnlyWhenTheEndpointReachesItself() {
        let t = F.nftTracer(F.snapshot([(F.service(web, "172.30.0.41"), twoEndpoints)]))
        #expect(t.trace(from: "10.180.0.1", to: "172.30.0.41", port: 80) == [
            NFTablesTracer.Outcome(verdict: .accept, dnat: "10.180.0.1:8080", masqueraded: true),
            NFTablesTracer.Outcome(verdict: .accept, dnat: "10.180.0.2:8080", masqueraded: false),
        ])
    }

    @Test func unknownPortOfAClusterIPIsRejected() {
        let t = F.nftTracer(F.snapshot([(F.service(web, "172.30.0.41"), twoEndpoints)]))
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 81) == .verdict(.reject))
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80, proto: "udp") == .verdict(.reject))
        // Not a ClusterIP: not ours.
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.42", port: 80) == .verdict(.accept))
    }

    @Test func serviceWithNoEndpointsIsRejectedOnEveryFrontend() {
        let svc = F.service(web, "172.30.0.41", nodePort: 30080, externalIPs: ["192.0.2.10"], lbIPs: ["198.51.100.7"])
        let t = F.nftTracer(F.snapshot([(svc, [])]))
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == .verdict(.reject))
        #expect(t.trace(from: "203.0.113.9", to: "192.0.2.10", port: 80) == .verdict(.reject))
        #expect(t.trace(from: "203.0.113.9", to: "198.51.100.7", port: 80) == .verdict(.reject))
        #expect(t.trace(from: "203.0.113.9", to: "192.168.0.2", port: 30080) == .verdict(.reject))
        // From the node itself, too.
        #expect(t.trace(from: "192.168.0.2", to: "172.30.0.41", port: 80) == .verdict(.reject))
    }

    @Test func loadBalancerSourceRangesDropOthers() {
        let svc = F.service(web, "172.30.0.41", lbIPs: ["198.51.100.7"], sourceRanges: ["203.0.113.0/25"])
        let t = F.nftTracer(F.snapshot([(svc, twoEndpoints)]))
        #expect(t.trace(from: "203.0.113.200", to: "198.51.100.7", port: 80) == .verdict(.drop))
        #expect(t.trace(from: "203.0.113.9", to: "198.51.100.7", port: 80)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080", masquerade: true))
        // The ClusterIP is not filtered.
        #expect(t.trace(from: "203.0.113.200", to: "172.30.0.41", port: 80)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080", masquerade: true))
    }

    /// Each prefix length is its own set, read with the source masked: nested and disjoint ranges
    /// of several lengths, in IPv6 too.
    @Test func sourceRangesOfSeveralPrefixLengthsIPv6() {
        let name = F.name("ns1", "v6lb")
        let svc = ServicePort(name: name, clusterIPs: [IPAddress("fd00:30::42")!], port: 80, loadBalancerIPs: [IPAddress("2001:db8:1::7")!],
                              loadBalancerSourceRanges: [CIDR("2001:db8:aa::/48")!, CIDR("2001:db8:aa:1::/64")!, CIDR("2001:db8:bb::5/128")!])
        let config = RuleSyncConfig(clusterCIDRs: [CIDR("fd00::/16")!])
        let ruleset = F.nftRuleset(F.snapshot([(svc, [Endpoint(address: IPAddress("fd00:180::1")!, port: 8080)])]), config: config, family: .ipv6)
        // The /64 lies inside the /48: only the /48 and the /128 have sets.
        #expect(ruleset.pickSets.map(\.name).filter { $0.hasPrefix("firewall-allow-") } == ["firewall-allow-48", "firewall-allow-128"])
        let t = NFTablesTracer(ruleset, localAddresses: [IPAddress("fd00:1::2")!])
        for allowed in ["2001:db8:aa:ffff::9", "2001:db8:aa:1::1", "2001:db8:bb::5"] {
            #expect(t.trace(from: allowed, to: "2001:db8:1::7", port: 80) == .dnat("fd00:180::1:8080", masquerade: true))
        }
        for blocked in ["2001:db8:ab::9", "2001:db8:bb::6"] {
            #expect(t.trace(from: blocked, to: "2001:db8:1::7", port: 80) == .verdict(.drop))
        }
    }

    @Test func nodePortFromOffClusterIsMasqueraded() {
        let svc = F.service(web, "172.30.0.41", nodePort: 30080)
        let t = F.nftTracer(F.snapshot([(svc, twoEndpoints)]))
        #expect(t.trace(from: "203.0.113.9", to: "192.168.0.2", port: 30080)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080", masquerade: true))
        // Not a local address: not a NodePort.
        #expect(t.trace(from: "203.0.113.9", to: "192.168.0.99", port: 30080) == .verdict(.accept))
        // Loopback is left out.
        #expect(t.trace(from: "127.0.0.1", to: "127.0.0.1", port: 30080) == .verdict(.accept))
    }

    @Test func nodePortAddressesLimitWhereNodePortsListen() {
        let config = RuleSyncConfig(clusterCIDRs: [CIDR("10.0.0.0/8")!], nodePortAddresses: [CIDR("192.168.0.0/24")!])
        let svc = F.service(web, "172.30.0.41", nodePort: 30080)
        let local: Set<IPAddress> = [F.nodeIP, IPAddress("172.16.0.2")!]
        let t = F.nftTracer(F.snapshot([(svc, twoEndpoints)]), config: config, local: local)
        #expect(t.trace(from: "203.0.113.9", to: "192.168.0.2", port: 30080)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080", masquerade: true))
        #expect(t.trace(from: "203.0.113.9", to: "172.16.0.2", port: 30080) == .verdict(.accept))
    }

    @Test func externalIPFromOffClusterIsMasqueraded() {
        let svc = F.service(web, "172.30.0.41", externalIPs: ["192.0.2.10"])
        let t = F.nftTracer(F.snapshot([(svc, twoEndpoints)]))
        #expect(t.trace(from: "203.0.113.9", to: "192.0.2.10", port: 80)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080", masquerade: true))
    }

    @Test func externalLocalPolicyKeepsTheSourceAndUsesOnlyLocalEndpoints() {
        let svc = F.service(web, "172.30.0.41", nodePort: 30080, externalPolicy: .local)
        let eps = [F.endpoint("10.180.0.1", local: true), F.endpoint("10.180.0.2")]
        let t = F.nftTracer(F.snapshot([(svc, eps)]))
        #expect(t.trace(from: "203.0.113.9", to: "192.168.0.2", port: 30080) == .dnat("10.180.0.1:8080"))
        // Pods skip the policy: every endpoint, source kept.
        #expect(t.trace(from: "10.0.1.5", to: "192.168.0.2", port: 30080) == .dnat("10.180.0.1:8080", "10.180.0.2:8080"))
        // The node itself: masqueraded, every endpoint.
        #expect(t.trace(from: "192.168.0.2", to: "192.168.0.2", port: 30080)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080", masquerade: true))
    }

    @Test func externalLocalPolicyWithNoLocalEndpointsDrops() {
        let svc = F.service(web, "172.30.0.41", nodePort: 30080, externalIPs: ["192.0.2.10"], externalPolicy: .local)
        let t = F.nftTracer(F.snapshot([(svc, twoEndpoints)]))
        #expect(t.trace(from: "203.0.113.9", to: "192.168.0.2", port: 30080) == .verdict(.drop))
        #expect(t.trace(from: "203.0.113.9", to: "192.0.2.10", port: 80) == .verdict(.drop))
        // In-cluster clients still reach the Service's endpoints anywhere.
        #expect(t.trace(from: "10.0.1.5", to: "192.0.2.10", port: 80) == .dnat("10.180.0.1:8080", "10.180.0.2:8080"))
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == .dnat("10.180.0.1:8080", "10.180.0.2:8080"))
    }

    /// The filter checks run after DNAT (priority 0, as upstream since its fix): the node's own
    /// connection to a Local-policy LB IP or ExternalIP with only remote endpoints is sent to them,
    /// masqueraded, not dropped by the "no local endpoints" check; an outside client is dropped.
    @Test func theNodeReachesALocalPolicyFrontendWhoseEndpointsAreAllRemote() {
        let svc = F.service(web, "172.30.0.41", externalIPs: ["192.0.2.10"], lbIPs: ["198.51.100.7"], externalPolicy: .local)
        let t = F.nftTracer(F.snapshot([(svc, twoEndpoints)]))
        for frontend in ["192.0.2.10", "198.51.100.7"] {
            #expect(t.trace(from: "192.168.0.2", to: frontend, port: 80)
                == .dnat("10.180.0.1:8080", "10.180.0.2:8080", masquerade: true))
            #expect(t.trace(from: "203.0.113.9", to: frontend, port: 80) == .verdict(.drop))
        }
    }

    @Test func internalLocalPolicyWithNoLocalEndpointsDropsClusterIPTraffic() {
        let svc = F.service(web, "172.30.0.41", internalPolicy: .local)
        let t = F.nftTracer(F.snapshot([(svc, twoEndpoints)]))
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == .verdict(.drop))
    }

    @Test func affinityRemembersThePickAndSendsAReturningClientBack() {
        let svc = F.service(web, "172.30.0.41", affinity: .clientIP(timeoutSeconds: 600))
        let snapshot = F.snapshot([(svc, twoEndpoints)])
        var t = F.nftTracer(snapshot)
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == .dnat("10.180.0.1:8080", "10.180.0.2:8080", updates: ["affinity-600"]))
        t.remember("10.0.1.5", to: "172.30.0.41", port: 80, endpoint: "10.180.0.2", endpointPort: 8080, seconds: 600)
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == .dnat("10.180.0.2:8080", updates: ["affinity-600"]))
        // Another client, or the same client to another frontend, picks anew.
        #expect(t.trace(from: "10.0.1.6", to: "172.30.0.41", port: 80).count == 2)
        let map = F.nftRuleset(snapshot).affinityMaps.first { $0.name == "affinity-600" }!
        #expect(map.timeout == .seconds(600) && map.flags.contains(.timeout) && map.flags.contains(.dynamic))
    }

    @Test func terminatingEndpointsServeOnlyWhenNoneIsReady() {
        let svc = F.service(web, "172.30.0.41")
        var terminating = F.endpoint("10.180.0.3")
        terminating.isReady = false
        terminating.isServing = true
        terminating.isTerminating = true
        let t = F.nftTracer(F.snapshot([(svc, twoEndpoints + [terminating])]))
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == .dnat("10.180.0.1:8080", "10.180.0.2:8080"))
        let onlyTerminating = F.nftTracer(F.snapshot([(svc, [terminating])]))
        #expect(onlyTerminating.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == .dnat("10.180.0.3:8080"))
    }

    @Test func ipv6UsesItsOwnTableAndAddresses() {
        let name = F.name("ns1", "v6")
        let svc = ServicePort(name: name, clusterIPs: [IPAddress("fd00:30::41")!], port: 80)
        let eps = [Endpoint(address: IPAddress("fd00:180::1")!, port: 8080)]
        let snapshot = F.snapshot([(svc, eps)])
        #expect(F.nftRuleset(snapshot, family: .ipv4).services.isEmpty)
        let config = RuleSyncConfig(clusterCIDRs: [CIDR("fd00::/16")!])
        let ruleset = F.nftRuleset(snapshot, config: config, family: .ipv6)
        #expect(ruleset.table == NFTTable(family: .ip6, name: "swift-kube-proxy"))
        let t = NFTablesTracer(ruleset, localAddresses: [IPAddress("fd00:1::2")!])
        #expect(t.trace(from: "fd00:1::5", to: "fd00:30::41", port: 80) == .dnat("fd00:180::1:8080"))
    }

    @Test func randomPickReachesEveryEndpointToo() throws {
        let config = RuleSyncConfig(clusterCIDRs: [CIDR("10.0.0.0/8")!], endpointPick: .random)
        let ruleset = F.nftRuleset(F.snapshot([(F.service(web, "172.30.0.41"), twoEndpoints)]), config: config)
        let chain = try #require(ruleset.picks[NFTablesPick(nodePort: false, local: false, endpoints: 2)])
        #expect(chain.chain!.rules.last?.description.hasSuffix("dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @service-endpoints") == true)
        #expect(NFTablesTracer(ruleset, localAddresses: [F.nodeIP]).trace(from: "10.0.1.5", to: "172.30.0.41", port: 80)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080"))
    }

    @Test func affinityChainsAndMapsAreNamedByKindCountAndTimeout() {
        #expect(NFTablesPick(nodePort: false, local: false, endpoints: 2, affinitySeconds: 600).chainName == "affinity-pick-2-600")
        #expect(NFTablesPick(nodePort: true, local: true, endpoints: 3, affinitySeconds: 5).chainName == "nodeport-affinity-pick-local-3-5")
        #expect(NFTablesPick(nodePort: false, local: false, endpoints: 2).chainName == "pick-2")
        #expect(NFTablesNames.affinityMap(nodePort: false, seconds: 600) == "affinity-600")
        #expect(NFTablesNames.affinityMap(nodePort: true, seconds: 600) == "nodeport-affinity-600")
    }
}
