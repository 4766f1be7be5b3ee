import ProxyModel
import Testing
@testable import RuleSync

/// `nodePortAddresses: [primary]`: NodePorts on the node's primary address of each family only,
/// resolved from the snapshot's node on every full sync, in both rule backends.
@Suite struct PrimaryNodePortTests {
    typealias F = Fixture
    let web = F.name("ns1", "svc1")
    let endpoints = [F.endpoint("10.180.0.1")]
    static let second = IPAddress("172.16.0.2")!
    /// A node with two IPv4 addresses (InternalIP first) and one IPv6 address.
    static let node = NodeInfo(name: "node1", addresses: [F.nodeIP, second, IPAddress("fd00::2")!])

    var primary: RuleSyncConfig {
        var c = F.config
        c.nodePortAddressesPrimary = true
        return c
    }

    @Test func thePrimaryAddressOfEachFamilyIsTheFirstOfItsFamily() {
        #expect(Self.node.primaryAddresses == [F.nodeIP, IPAddress("fd00::2")!])
        #expect(NodeInfo(name: "n", addresses: [IPAddress("fd00::9")!, IPAddress("10.0.0.9")!, IPAddress("10.0.0.1")!]).primaryAddresses
            == [IPAddress("fd00::9")!, IPAddress("10.0.0.9")!])
        #expect(NodeInfo(name: "n").primaryAddresses.isEmpty)
        // Given outright (no Node object): kept as given.
        #expect(NodeInfo(name: "n", addresses: [F.nodeIP, Self.second], primaryAddresses: [Self.second]).primaryAddress(of: .ipv4) == Self.second)
    }

    @Test func theScopeIsThePrimaryAddressPerFamily() {
        #expect(ForwardingPlan.nodePortScope(config: primary, node: Self.node, family: .ipv4) == .localAddresses(in: [CIDR("192.168.0.2/32")!]))
        #expect(ForwardingPlan.nodePortScope(config: primary, node: Self.node, family: .ipv6) == .localAddresses(in: [CIDR("fd00::2/128")!]))
        // No primary address of a family, or only loopback (upstream's fallback node IP): every
        // address of that family, as upstream (no CIDR of the family).
        let v4Only = NodeInfo(name: "n", addresses: [F.nodeIP])
        #expect(ForwardingPlan.nodePortScope(config: primary, node: v4Only, family: .ipv6) == .allLocalAddresses)
        let loopback = NodeInfo(name: "n", addresses: [IPAddress("127.0.0.1")!])
        #expect(ForwardingPlan.nodePortScope(config: primary, node: loopback, family: .ipv4) == .allLocalAddresses)
        // The override wins over the Node, for its family only.
        var overridden = primary
        overridden.nodeIPOverride = [Self.second]
        #expect(ForwardingPlan.nodePortScope(config: overridden, node: Self.node, family: .ipv4) == .localAddresses(in: [CIDR("172.16.0.2/32")!]))
        #expect(ForwardingPlan.nodePortScope(config: overridden, node: Self.node, family: .ipv6) == .localAddresses(in: [CIDR("fd00::2/128")!]))
        // Without primary, the CIDRs (here none: every address) as before.
        #expect(ForwardingPlan.nodePortScope(config: F.config, node: Self.node, family: .ipv4) == .allLocalAddresses)
    }

    @Test func nftablesServesThePrimaryAddressOnlyAndFollowsTheNode() {
        let svc = F.service(web, "172.30.0.41", nodePort: 30080)
        let local: Set<IPAddress> = [F.nodeIP, Self.second]
        let t = F.nftTracer(F.snapshot([(svc, endpoints)], node: Self.node), config: primary, local: local)
        #expect(t.trace(from: "203.0.113.9", to: "192.168.0.2", port: 30080) == .dnat("10.180.0.1:8080", masquerade: true))
        #expect(t.trace(from: "203.0.113.9", to: "172.16.0.2", port: 30080) == .verdict(.accept))
        // The Node now names its other address first: the NodePort moves with it.
        let renumbered = NodeInfo(name: "node1", addresses: [Self.second, F.nodeIP])
        let moved = F.nftTracer(F.snapshot([(svc, endpoints)], node: renumbered), config: primary, local: local)
        #expect(moved.trace(from: "203.0.113.9", to: "172.16.0.2", port: 30080) == .dnat("10.180.0.1:8080", masquerade: true))
        #expect(moved.trace(from: "203.0.113.9", to: "192.168.0.2", port: 30080) == .verdict(.accept))
    }

    /// Upstream allows `primary` in every mode: iptables serves it the same way, and never on localhost.
    @Test func iptablesServesThePrimaryAddressOnlyAndNotLocalhost() {
        var config = primary
        config.localhostNodePorts = true
        let svc = F.service(web, "172.30.0.41", nodePort: 30080)
        let local: Set<IPAddress> = [F.nodeIP, Self.second, IPAddress("127.0.0.1")!]
        let t = F.tracer(F.snapshot([(svc, endpoints)], node: Self.node), config: config, local: local)
        #expect(t.trace(from: "203.0.113.9", to: "192.168.0.2", port: 30080) == .dnat("10.180.0.1:8080", masquerade: true))
        #expect(t.trace(from: "203.0.113.9", to: "172.16.0.2", port: 30080) == .verdict(.accept))
        #expect(!IPTablesRenderer(config: config, family: .ipv4).servesLocalhostNodePorts)
        #expect(F.render(F.snapshot([(svc, endpoints)], node: Self.node), config: config)
            .contains("-d 192.168.0.2/32 -m addrtype --dst-type LOCAL -j SKP-NODEPORTS"))
    }
}
