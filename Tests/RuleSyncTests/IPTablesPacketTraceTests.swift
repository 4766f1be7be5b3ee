import ProxyModel
import Testing
@testable import RuleSync

/// Packets traced through the rendered rules: each test says where a connection ends up.
@Suite struct IPTablesPacketTraceTests {
    typealias F = Fixture
    let web = F.name("ns1", "svc1")
    let twoEndpoints = [F.endpoint("10.180.0.1"), F.endpoint("10.180.0.2")]

    @Test func clusterIPReachesEveryEndpointWithoutMasqueradeFromPods() {
        let t = F.tracer(F.snapshot([(F.service(web, "172.30.0.41"), twoEndpoints)]))
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == .dnat("10.180.0.1:8080", "10.180.0.2:8080"))
    }

    @Test func clusterIPFromOffClusterIsMasqueraded() {
        let t = F.tracer(F.snapshot([(F.service(web, "172.30.0.41"), twoEndpoints)]))
        #expect(t.trace(from: "203.0.113.9", to: "172.30.0.41", port: 80)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080", masquerade: true))
    }

    @Test func masqueradeAllMasqueradesPodsToo() {
        let config = RuleSyncConfig(clusterCIDRs: [CIDR("10.0.0.0/8")!], masqueradeAll: true)
        let t = F.tracer(F.snapshot([(F.service(web, "172.30.0.41"), twoEndpoints)]), config: config)
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080", masquerade: true))
    }

    @Test func hairpinIsMasqueradedOnlyWhenTheEndpointReachesItself() {
        let local = [F.endpoint("10.180.0.1", local: true), F.endpoint("10.180.0.2", local: true)]
        let t = F.tracer(F.snapshot([(F.service(web, "172.30.0.41"), local)]))
        #expect(t.trace(from: "10.180.0.1", to: "172.30.0.41", port: 80) == [
            IPTablesTracer.Outcome(verdict: .accept, dnat: "10.180.0.1:8080", masqueraded: true),
            IPTablesTracer.Outcome(verdict: .accept, dnat: "10.180.0.2:8080", masqueraded: false),
        ])
    }

    @Test func otherPortOfTheClusterIPIsNotCaptured() {
        let t = F.tracer(F.snapshot([(F.service(web, "172.30.0.41"), twoEndpoints)]))
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 81) == .verdict(.accept))
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80, proto: "udp") == .verdict(.accept))
    }

    @Test func serviceWithNoEndpointsIsRejectedOnEveryFrontend() {
        let svc = F.service(web, "172.30.0.41", nodePort: 30080, externalIPs: ["192.0.2.10"], lbIPs: ["198.51.100.7"])
        let t = F.tracer(F.snapshot([(svc, [])]))
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == .verdict(.reject))
        #expect(t.trace(from: "203.0.113.9", to: "192.0.2.10", port: 80) == .verdict(.reject))
        #expect(t.trace(from: "203.0.113.9", to: "198.51.100.7", port: 80) == .verdict(.reject))
        #expect(t.trace(from: "203.0.113.9", to: "192.168.0.2", port: 30080) == .verdict(.reject))
    }

    @Test func loadBalancerSourceRangesDropOthers() {
        let svc = F.service(web, "172.30.0.41", lbIPs: ["198.51.100.7"], sourceRanges: ["203.0.113.0/25"])
        let t = F.tracer(F.snapshot([(svc, twoEndpoints)]))
        #expect(t.trace(from: "203.0.113.200", to: "198.51.100.7", port: 80) == .verdict(.drop))
        #expect(t.trace(from: "203.0.113.9", to: "198.51.100.7", port: 80)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080", masquerade: true))
    }

    @Test func nodePortFromOffClusterIsMasqueraded() {
        let svc = F.service(web, "172.30.0.41", nodePort: 30080)
        let t = F.tracer(F.snapshot([(svc, twoEndpoints)]))
        #expect(t.trace(from: "203.0.113.9", to: "192.168.0.2", port: 30080)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080", masquerade: true))
        // Not a local address: not a NodePort.
        #expect(t.trace(from: "203.0.113.9", to: "192.168.0.99", port: 30080) == .verdict(.accept))
    }

    @Test func nodePortAddressesLimitWhereNodePortsListen() {
        let config = RuleSyncConfig(clusterCIDRs: [CIDR("10.0.0.0/8")!], nodePortAddresses: [CIDR("192.168.0.0/24")!])
        let svc = F.service(web, "172.30.0.41", nodePort: 30080)
        let local: Set<IPAddress> = [F.nodeIP, IPAddress("172.16.0.2")!]
        let t = F.tracer(F.snapshot([(svc, twoEndpoints)]), config: config, local: local)
        #expect(t.trace(from: "203.0.113.9", to: "192.168.0.2", port: 30080)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080", masquerade: true))
        #expect(t.trace(from: "203.0.113.9", to: "172.16.0.2", port: 30080) == .verdict(.accept))
    }

    @Test func externalIPFromOffClusterIsMasqueraded() {
        let svc = F.service(web, "172.30.0.41", externalIPs: ["192.0.2.10"])
        let t = F.tracer(F.snapshot([(svc, twoEndpoints)]))
        #expect(t.trace(from: "203.0.113.9", to: "192.0.2.10", port: 80)
            == .dnat("10.180.0.1:8080", "10.180.0.2:8080", masquerade: true))
    }

    @Test func externalLocalPolicyKeepsTheSourceAndUsesOnlyLocalEndpoints() {
        let svc = F.service(web, "172.30.0.41", nodePort: 30080, externalPolicy: .local)
        let eps = [F.endpoint("10.180.0.1", local: true), F.endpoint("10.180.0.2")]
        let t = F.tracer(F.snapshot([(svc, eps)]))
        #expect(t.trace(from: "203.0.113.9", to: "192.168.0.2", port: 30080) == .dnat("10.180.0.1:8080"))
        // Pods skip the policy: every endpoint, source kept.
        #expect(t.trace(from: "10.0.1.5", to: "192.168.0.2", port: 30080) == .dnat("10.180.0.1:8080", "10.180.0.2:8080"))
    }

    @Test func externalLocalPolicyWithNoLocalEndpointsDrops() throws {
        let svc = F.service(web, "172.30.0.41", nodePort: 30080, externalIPs: ["192.0.2.10"], externalPolicy: .local)
        let snapshot = F.snapshot([(svc, twoEndpoints)])
        let t = F.tracer(snapshot)
        #expect(t.trace(from: "203.0.113.9", to: "192.168.0.2", port: 30080) == .verdict(.drop))
        #expect(t.trace(from: "203.0.113.9", to: "192.0.2.10", port: 80) == .verdict(.drop))
        // In-cluster clients still reach the Service's endpoints anywhere.
        #expect(t.trace(from: "10.0.1.5", to: "192.0.2.10", port: 80) == .dnat("10.180.0.1:8080", "10.180.0.2:8080"))
        #expect(t.trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == .dnat("10.180.0.1:8080", "10.180.0.2:8080"))
        let plan = ForwardingPlan(snapshot: snapshot, config: F.config, family: .ipv4)
        #expect(plan.noLocalEndpointsExternal == 1)
        #expect(plan.noLocalEndpointsInternal == 0)
    }

    @Test func internalLocalPolicyWithNoLocalEndpointsDropsClusterIPTraffic() {
        let svc = F.service(web, "172.30.0.41", internalPolicy: .local)
        let snapshot = F.snapshot([(svc, twoEndpoints)])
        #expect(F.tracer(snapshot).trace(from: "10.0.1.5", to: "172.30.0.41", port: 80) == .verdict(.drop))
        #expect(ForwardingPlan(snapshot: snapshot, config: F.config, family: .ipv4).noLocalEndpointsInternal == 1)
    }

    @Test func ipv6RulesUseOnlyIPv6AddressesAndBrackets() {
        let name = F.name("ns1", "v6")
        let svc = ServicePort(name: name, clusterIPs: [IPAddress("fd00:30::41")!], port: 80)
        let eps = [Endpoint(address: IPAddress("fd00:180::1")!, port: 8080)]
        let snapshot = F.snapshot([(svc, eps)])
        #expect(!F.render(snapshot, family: .ipv4).contains("SKP-SVC-"))
        let text = F.render(snapshot, config: RuleSyncConfig(clusterCIDRs: [CIDR("fd00::/16")!]), family: .ipv6)
        #expect(text.contains("--to-destination [fd00:180::1]:8080"))
        #expect(text.contains("! -d ::1/128"))
    }
}
