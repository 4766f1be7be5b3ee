import Foundation
import Testing
@testable import NFTables

/// Each rule is installed twice in one namespace: once by `nft` from its text, once by us from
/// statements. The kernel's copies must hold the same expressions, so that `nft` (and anything
/// else that reads the ruleset) sees exactly what it would have written itself.
@Suite(.enabled(if: canUseNamespaces, "needs root, ip and nft"))
struct BytecodeParityTests {
    static let cases: [(text: String, statements: [NFTStatement])] = [
        ("ip daddr . meta l4proto . th dport vmap @service-ips", [.lookup([.ipDaddr, .l4proto, .thDport], vmap: "service-ips")]),
        ("fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @nodeports",
         [.fibDaddrTypeLocal(), .match(.ipDaddr, negated: true, prefix: NFTPrefix("127.0.0.0/8")!), .lookup([.l4proto, .thDport], vmap: "nodeports")]),
        ("ct state new jump ep1", [.ctState(.new), .jump("ep1")]),
        ("ct state invalid drop", [.ctState(.invalid), .drop]),
        ("ip daddr 10.96.0.5 meta l4proto tcp th dport 80 reject with tcp reset",
         [.match(.ipDaddr, NFTValue(ipv4: "10.96.0.5")!), .match(.l4proto, .proto(.tcp)), .match(.thDport, .port(80)), .reject(.tcpReset)]),
        ("reject with icmp type host-unreachable", [.reject(.icmp(.hostUnreachable))]),
        ("reject", [.reject()]),
        ("meta mark set meta mark | 0x4000", [.setMark(orBits: 0x4000)]),
        ("meta mark set meta mark xor 0x4000", [.setMark(xorBits: 0x4000)]),
        ("meta mark set 0x1", [.setMark(0x1)]),
        ("meta mark & 0x4000 == 0 return", [.mark(hasBits: 0x4000, isSet: false), .return]),
        ("iifname \"eth0\" oifname != \"lo\" counter accept",
         [.match(.iifname, .ifname("eth0")), .match(.oifname, .neq, .ifname("lo")), .counter, .accept]),
        ("ip saddr 10.0.0.0/16 drop", [.match(.ipSaddr, prefix: NFTPrefix("10.0.0.0/16")!), .drop]),
        ("ip saddr 10.0.0.0/12 accept", [.match(.ipSaddr, prefix: NFTPrefix("10.0.0.0/12")!), .accept]),
        ("ip saddr != { 203.0.113.0/25, 198.51.100.0/24 } drop",
         [.match(.ipSaddr, negated: true, anyOf: [NFTPrefix("203.0.113.0/25")!, NFTPrefix("198.51.100.0/24")!]), .drop]),
        ("ip saddr != @local-ips drop", [.lookup([.ipSaddr], set: "local-ips", negated: true), .drop]),
        ("ip saddr @affinity goto ep1", [.lookup([.ipSaddr], set: "affinity"), .goto("ep1")]),
        ("numgen random mod 3 vmap { 0 : goto ep1, 1 : goto ep2, 2 : goto ep1 }",
         [.numgen(.random, vmap: [.goto("ep1"), .goto("ep2"), .goto("ep1")])]),
        ("update @affinity { ip saddr timeout 10800s }", [.dynset(.update, set: "affinity", key: [.ipSaddr], timeout: .seconds(10800))]),
        ("meta l4proto tcp dnat to 10.1.0.5:8080", [.match(.l4proto, .proto(.tcp)), .dnat(to: NFTValue(ipv4: "10.1.0.5")!, port: 8080)]),
        ("dnat to 10.1.0.5", [.dnat(to: NFTValue(ipv4: "10.1.0.5")!)]),
        ("masquerade fully-random", [.masquerade(fullyRandom: true)]),
        ("masquerade", [.masquerade()]),
        ("snat to 192.0.2.1", [.snat(to: NFTValue(ipv4: "192.0.2.1")!)]),
        ("limit rate 10/second accept", [.limit(packetsPerSecond: 10), .accept]),
        ("jump ep2 comment \"default/web:http\"", [.jump("ep2")]),
        ("numgen inc mod 3 0 goto ep1", [.numgen(.inc, modulus: 3, equals: 0), .goto("ep1")]),
        ("numgen random mod 2 0 goto ep2", [.numgen(.random, modulus: 2, equals: 0), .goto("ep2")]),
        ("meta l4proto tcp redirect to :8080", [.match(.l4proto, .proto(.tcp)), .redirect(toPort: 8080)]),
        ("meta l4proto udp redirect to ip daddr . meta l4proto . th dport map @redirects",
         [.match(.l4proto, .proto(.udp)), .redirect(toPortFrom: [.ipDaddr, .l4proto, .thDport], map: "redirects")]),
        ("meta l4proto tcp dnat ip to numgen inc mod 2 map @endpoints",
         [.match(.l4proto, .proto(.tcp)), .dnat(numgen: .inc, modulus: 2, map: "endpoints", family: .ip)]),
        ("meta l4proto tcp dnat ip to numgen random mod 2 offset 100 map @endpoints",
         [.match(.l4proto, .proto(.tcp)), .dnat(numgen: .random, modulus: 2, offset: 100, map: "endpoints", family: .ip)]),
    ]

    @Test func ourRulesHoldTheExpressionsNftWrites() throws {
        try Self.checkParity(family: .ip, cases: Self.cases)
    }

    static let inetCases: [(text: String, statements: [NFTStatement])] = [
        ("meta nfproto ipv4 ip daddr 10.0.0.1 accept", [.match(.nfproto, .nfproto(.ip)), .match(.ipDaddr, NFTValue(ipv4: "10.0.0.1")!), .accept]),
        ("meta nfproto ipv6 ip6 saddr fd00::/64 drop", [.match(.nfproto, .nfproto(.ip6)), .match(.ip6Saddr, prefix: NFTPrefix("fd00::/64")!), .drop]),
        ("reject with icmpx type admin-prohibited", [.reject(.icmpx(.xAdminProhibited))]),
        ("meta l4proto tcp dnat ip to 10.0.0.1:80", [.match(.l4proto, .proto(.tcp)), .dnat(to: NFTValue(ipv4: "10.0.0.1")!, port: 80, family: .ip)]),
        ("meta l4proto tcp dnat ip6 to [fd00::1]:80", [.match(.l4proto, .proto(.tcp)), .dnat(to: NFTValue(ipv6: "fd00::1")!, port: 80)]),
    ]

    @Test func inetRulesHoldTheExpressionsNftWrites() throws {
        try Self.checkParity(family: .inet, cases: Self.inetCases)
    }

    static let ip6Cases: [(text: String, statements: [NFTStatement])] = [
        ("ip6 daddr . meta l4proto . th dport vmap @service-ips", [.lookup([.ip6Daddr, .l4proto, .thDport], vmap: "service-ips")]),
        ("ip6 saddr != fd00:10::/48 jump ep1", [.match(.ip6Saddr, negated: true, prefix: NFTPrefix("fd00:10::/48")!), .jump("ep1")]),
        ("ip6 saddr @affinity goto ep1", [.lookup([.ip6Saddr], set: "affinity"), .goto("ep1")]),
        ("update @affinity { ip6 saddr timeout 10800s }", [.dynset(.update, set: "affinity", key: [.ip6Saddr], timeout: .seconds(10800))]),
        ("meta l4proto tcp dnat to [fd00:1::5]:8080", [.match(.l4proto, .proto(.tcp)), .dnat(to: NFTValue(ipv6: "fd00:1::5")!, port: 8080)]),
        ("reject with icmpv6 type port-unreachable", [.reject(.icmpv6(.v6PortUnreachable))]),
        ("meta l4proto udp dnat ip6 to numgen inc mod 2 offset 7 map @endpoints",
         [.match(.l4proto, .proto(.udp)), .dnat(numgen: .inc, modulus: 2, offset: 7, map: "endpoints", family: .ip6)]),
    ]

    @Test func ip6RulesHoldTheExpressionsNftWrites() throws {
        try Self.checkParity(family: .ip6, cases: Self.ip6Cases)
    }

    /// Installs `cases` once through `nft -f` and once through an `NFTBatch`, then compares the
    /// kernel expressions of each rule and the whole `nft list table` text.
    static func checkParity(family: NFTFamily, cases: [(text: String, statements: [NFTStatement])]) throws {
        let namespace = try TestNamespace()
        defer { namespace.remove() }
        let connection = try NFTConnection(networkNamespace: namespace.path)
        let address: NFTDataType = family == .ip6 ? .ipv6Addr : .ipv4Addr
        let endpoints = family == .ip6 ? ["fd00:1::5", "fd00:1::6"] : ["10.1.0.5", "10.1.0.6"]

        let declarations = """
            set local-ips { type \(address); flags interval; }
            set affinity { type \(address); flags dynamic,timeout; timeout 3h; }
            map service-ips { type \(address) . inet_proto . inet_service : verdict; }
            map nodeports { type inet_proto . inet_service : verdict; }
            map redirects { type \(address) . inet_proto . inet_service : inet_service; }
            map endpoints { typeof numgen inc mod 1 : \(family == .ip6 ? "ip6" : "ip") daddr . th dport;
                elements = { 0 : \(endpoints[0]) . 8080, 101 : \(endpoints[1]) . 8080 } }
            chain ep1 { }
            chain ep2 { }
            chain c { }
            """
        let f = family.rawValue
        var script = "table \(f) reference {\n\(declarations)\n}\n"
        for (text, _) in cases { script += "add rule \(f) reference c \(text)\n" }
        try namespace.exec(["sh", "-c", "printf '%s' \"$0\" | nft -f -", script])

        let ours = NFTTable(family: family, name: "ours")
        var batch = NFTBatch()
        batch.add(ours)
        batch.add(.set("local-ips", in: ours, key: address, flags: [.interval]))
        batch.add(.set("affinity", in: ours, key: address, flags: [.dynamic, .timeout], timeout: .seconds(10800)))
        batch.add(.map("service-ips", in: ours, key: .concat(address, .inetProto, .inetService), to: .verdict))
        batch.add(.map("nodeports", in: ours, key: .concat(.inetProto, .inetService), to: .verdict))
        batch.add(.map("redirects", in: ours, key: .concat(address, .inetProto, .inetService), to: .data(.inetService)))
        let endpointMap = NFTSet.addressPortMap("endpoints", in: ours)
        batch.add(endpointMap)
        batch.add(zip([0, 101], endpoints).map { key, a in
            NFTSetElement(key: .integer(UInt32(key)), value: .data(.concat(NFTValue(ipAddress: a)!, .port(8080))))
        }, to: endpointMap)
        for name in ["ep1", "ep2", "c"] { batch.add(NFTChain.regular(name, in: ours)) }
        for (text, statements) in cases {
            batch.add(NFTRule(table: ours, chain: "c", statements, comment: text.contains("comment") ? "default/web:http" : nil))
        }
        try connection.apply(batch)

        let reference = rules(try namespace.nft("--debug=netlink", "list", "chain", f, "reference", "c"), family: family)
        let encoded = rules(try namespace.nft("--debug=netlink", "list", "chain", f, "ours", "c"), family: family)
        #expect(reference.count == cases.count)
        for (index, (text, _)) in cases.enumerated() where index < min(reference.count, encoded.count) {
            #expect(encoded[index] == reference[index], "rule \(index): \(text)")
        }

        // And `nft` prints our table (sets, maps, chains, rules) exactly as it prints its own.
        let listedOurs = try namespace.nft("list", "table", f, "ours")
        let listedReference = try namespace.nft("list", "table", f, "reference")
        #expect(listedOurs.replacingOccurrences(of: "table \(f) ours", with: "table \(f) reference") == listedReference)
    }

    /// The expression lines (and userdata) of each rule in `nft --debug=netlink list` output.
    static func rules(_ dump: String, family: NFTFamily) -> [[String]] {
        var rules: [[String]] = []
        var current: [String]?
        for line in dump.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("  [") || line.hasPrefix("  userdata") {
                current?.append(line)
            } else if line.hasPrefix("\(family.rawValue) ") && !line.contains("@") {
                if let current { rules.append(current) }
                current = []
            }
        }
        if let current, !current.isEmpty { rules.append(current) }
        return rules
    }
}
