import ProxyModel
import Testing
@testable import RuleSync

/// Rendering of issue 11's iptables parts: `nodePortAddresses` per family, localhost NodePorts and
/// their anti-martian rule, the forward path's INVALID drop and its counter.
@Suite struct IPTablesNodePortAddressTests {
    typealias F = Fixture
    let web = F.name("ns1", "svc1")

    func chain(_ text: String, _ name: String) -> [String] {
        text.split(separator: "\n").filter { $0.hasPrefix("-A \(name) ") }.map { String($0.dropFirst(4 + name.count)) }
    }

    func render(_ config: RuleSyncConfig, family: IPAddress.Family = .ipv4) -> String {
        let svc = ServicePort(name: web, clusterIPs: [IPAddress(family == .ipv4 ? "172.30.0.41" : "fd00:30::41")!], port: 80, nodePort: 30080)
        let ep = Endpoint(address: IPAddress(family == .ipv4 ? "10.180.0.1" : "fd00:180::1")!, port: 8080)
        return F.render(F.snapshot([(svc, [ep])]), config: config, family: family)
    }

    func nodePortCatchAll(_ config: RuleSyncConfig, family: IPAddress.Family = .ipv4) -> [String] {
        chain(render(config, family: family), "SKP-SERVICES").filter { $0.hasSuffix("-j SKP-NODEPORTS") }
    }

    @Test func localhostNodePortsServeIPv4LoopbackWithTheAntiMartianRule() {
        let on = RuleSyncConfig(localhostNodePorts: true)
        #expect(nodePortCatchAll(on) == ["-m addrtype --dst-type LOCAL -j SKP-NODEPORTS"])
        #expect(chain(render(on), "SKP-FIREWALL") == [
            "-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m comment --comment \"block incoming localnet connections\" "
                + "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
        ])
        // IPv6 never: ::1 has no route_localnet.
        #expect(nodePortCatchAll(on, family: .ipv6) == ["-m addrtype --dst-type LOCAL ! -d ::1/128 -j SKP-NODEPORTS"])
        #expect(chain(render(on, family: .ipv6), "SKP-FIREWALL").isEmpty)

        let off = RuleSyncConfig(localhostNodePorts: false)
        #expect(nodePortCatchAll(off) == ["-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j SKP-NODEPORTS"])
        #expect(chain(render(off), "SKP-FIREWALL").isEmpty)
        // The chain exists either way, hooked from INPUT and OUTPUT as kube-proxy's KUBE-FIREWALL.
        #expect(render(off).contains(":SKP-FIREWALL - [0:0]"))
        #expect(render(off).contains("-I INPUT 1 -j SKP-FIREWALL"))
        #expect(render(off).contains("-I OUTPUT 1 -j SKP-FIREWALL"))
    }

    @Test func nodePortAddressesApplyPerFamily() {
        // Only an IPv6 prefix: IPv4 serves on all its node addresses (upstream's NodePortAddresses).
        let v6Only = RuleSyncConfig(nodePortAddresses: [CIDR("fd00::/64")!])
        #expect(nodePortCatchAll(v6Only) == ["-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j SKP-NODEPORTS"])
        #expect(nodePortCatchAll(v6Only, family: .ipv6) == ["-d fd00::/64 -m addrtype --dst-type LOCAL -j SKP-NODEPORTS"])
        #expect(ForwardingPlan.nodePortScope(config: v6Only, node: F.node, family: .ipv4) == .allLocalAddresses)
        // A zero prefix is every address of the family, loopback still left out.
        let zero = RuleSyncConfig(nodePortAddresses: [CIDR("0.0.0.0/0")!, CIDR("10.0.0.0/8")!])
        #expect(nodePortCatchAll(zero) == ["-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j SKP-NODEPORTS"])
    }

    @Test func loopbackPrefixesDoNotDNATLocalhostWithoutLocalhostNodePorts() {
        let localhost = [CIDR("127.0.0.0/8")!, CIDR("::1/128")!]
        #expect(nodePortCatchAll(RuleSyncConfig(nodePortAddresses: localhost)).isEmpty)
        #expect(nodePortCatchAll(RuleSyncConfig(nodePortAddresses: localhost), family: .ipv6).isEmpty)
        #expect(nodePortCatchAll(RuleSyncConfig(nodePortAddresses: localhost, localhostNodePorts: true))
            == ["-d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j SKP-NODEPORTS"])
        // The shared plan holds no loopback for any backend (nftables never serves it, as upstream).
        #expect(ForwardingPlan.nodePortScope(config: RuleSyncConfig(nodePortAddresses: localhost), node: F.node, family: .ipv4) == .localAddresses(in: []))
        #expect(ForwardingPlan.nodePortScope(config: RuleSyncConfig(nodePortAddresses: localhost), node: F.node, family: .ipv6) == .localAddresses(in: []))
        // A prefix around loopback is cut into the prefixes beside it.
        #expect(nodePortCatchAll(RuleSyncConfig(nodePortAddresses: [CIDR("0.0.0.0/2")!])) == [
            "-d 0.0.0.0/2 -m addrtype --dst-type LOCAL -j SKP-NODEPORTS",
        ])
        #expect(nodePortCatchAll(RuleSyncConfig(nodePortAddresses: [CIDR("96.0.0.0/3")!])) == [
            "-d 96.0.0.0/4 -m addrtype --dst-type LOCAL -j SKP-NODEPORTS",
            "-d 112.0.0.0/5 -m addrtype --dst-type LOCAL -j SKP-NODEPORTS",
            "-d 120.0.0.0/6 -m addrtype --dst-type LOCAL -j SKP-NODEPORTS",
            "-d 124.0.0.0/7 -m addrtype --dst-type LOCAL -j SKP-NODEPORTS",
            "-d 126.0.0.0/8 -m addrtype --dst-type LOCAL -j SKP-NODEPORTS",
        ])
    }

    @Test func loopbackExclusionCoversEverythingElse() {
        let pieces = NodePortLoopback.excluding(CIDR("0.0.0.0/1")!)
        #expect(pieces.count == 7)
        for probe in ["0.0.0.1", "126.255.255.255", "128.0.0.0", "127.0.0.1", "64.1.2.3"].map({ IPAddress($0)! }) {
            let inside = CIDR("0.0.0.0/1")!.contains(probe) && !NodePortLoopback.ipv4.contains(probe)
            #expect(pieces.contains { $0.contains(probe) } == inside, "\(probe)")
        }
        let v6 = NodePortLoopback.excluding(CIDR("::/120")!)
        #expect(v6.count == 8)
        #expect(!v6.contains { $0.contains(IPAddress("::1")!) })
        #expect(v6.contains { $0.contains(IPAddress("::2")!) } && v6.contains { $0.contains(IPAddress("::ff")!) })
        #expect(NodePortLoopback.excluding(CIDR("10.0.0.0/8")!) == [CIDR("10.0.0.0/8")!])
        #expect(NodePortLoopback.excluding(CIDR("127.0.0.1/32")!).isEmpty)
        #expect(NodePortLoopback.configIncludesIPv4Loopback([]))
        #expect(NodePortLoopback.configIncludesIPv4Loopback([CIDR("fd00::/64")!]))
        #expect(NodePortLoopback.configIncludesIPv4Loopback([CIDR("127.0.0.1/32")!]))
        #expect(!NodePortLoopback.configIncludesIPv4Loopback([CIDR("10.0.0.0/8")!]))
    }

    @Test func forwardPathDropsInvalidUnlessTCPBeLiberal() {
        #expect(chain(render(RuleSyncConfig()), "SKP-FORWARD").first == "-m conntrack --ctstate INVALID -j DROP")
        #expect(!chain(render(RuleSyncConfig(conntrackTCPLiberal: true)), "SKP-FORWARD").contains { $0.contains("INVALID") })
    }

    @Test func theInvalidDropCounterIsReadFromACountedListing() {
        let listing = IPTablesSaveListing("""
        *filter
        :INPUT ACCEPT [0:0]
        :SKP-FORWARD - [0:0]
        [3:120] -A INPUT -j SKP-FIREWALL
        [7:280] -A SKP-FORWARD -m conntrack --ctstate INVALID -j DROP
        [9:900] -A SKP-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT
        COMMIT
        """)
        #expect(listing.invalidDropped == 7)
        // Counters are stripped from rules in the standard chains, so hooks still match.
        #expect(listing.rules.map(\.rule) == ["-j SKP-FIREWALL"])
        #expect(IPTablesSaveListing("*filter\n-A SKP-FORWARD -j ACCEPT\n").invalidDropped == nil)
        let chain = """
        Chain SKP-FORWARD (1 references)
            pkts      bytes target     prot opt in     out     source               destination
              12      480 DROP       0    --  *      *       0.0.0.0/0            0.0.0.0/0            ctstate INVALID
               0        0 ACCEPT     0    --  *      *       0.0.0.0/0            0.0.0.0/0            mark match 0x4000/0x4000
        """
        #expect(IPTablesSaveListing.invalidDropped(inChainListing: chain) == 12)
        #expect(IPTablesSaveListing.invalidDropped(inChainListing: "Chain SKP-FORWARD (1 references)\n") == nil)
    }

    @Test func rulesWrittenAreCountedPerTable() {
        let config = RuleSyncConfig()
        let renderer = IPTablesRenderer(config: config, family: .ipv4)
        let svc = ServicePort(name: web, clusterIPs: [IPAddress("172.30.0.41")!], port: 80)
        let snapshot = F.snapshot([(svc, [Endpoint(address: IPAddress("10.180.0.1")!, port: 8080)])])
        let input = IPTablesRestoreInput.full(IPTablesRuleset(plan: ForwardingPlan(snapshot: snapshot, config: config, family: .ipv4),
                                                              renderer: renderer))
        let lines = input.text.split(separator: "\n")
        var table = ""
        var counted: [IPTablesTable: Int] = [:]
        for line in lines {
            if line.hasPrefix("*") { table = String(line.dropFirst()) }
            if line.hasPrefix("-A ") || line.hasPrefix("-I ") { counted[IPTablesTable(rawValue: table)!, default: 0] += 1 }
        }
        #expect(input.rulesWrittenByTable == counted)
        #expect(input.rulesWrittenByTable.values.reduce(0, +) == input.rulesWritten)
    }
}
