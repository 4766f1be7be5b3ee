import Foundation
import Testing
@testable import NFTables

/// A ruleset in the shape kube-proxy installs, small enough to read.
struct SampleRuleset {
    let table: NFTTable
    let services: NFTChain
    let natPrerouting: NFTChain
    let natPostrouting: NFTChain
    let filterInput: NFTChain
    let serviceIPs: NFTSet
    let clusterIPs: NFTSet
    let affinity: NFTSet
    let localRanges: NFTSet

    init(family: NFTFamily = .ip) {
        table = NFTTable(family: family, name: "swift-kube-proxy")
        let address: NFTDataType = family == .ip6 ? .ipv6Addr : .ipv4Addr
        services = .regular("services", in: table)
        natPrerouting = .base("nat-prerouting", in: table, type: .nat, hook: .prerouting, priority: NFTPriority.dstnat)
        natPostrouting = .base("nat-postrouting", in: table, type: .nat, hook: .postrouting, priority: NFTPriority.srcnat)
        filterInput = .base("filter-input", in: table, type: .filter, hook: .input, priority: NFTPriority.filter - 10)
        serviceIPs = .map("service-ips", in: table, key: .concat(address, .inetProto, .inetService), to: .verdict,
                          comment: "ClusterIP, ExternalIP and LoadBalancer IP traffic")
        clusterIPs = .set("cluster-ips", in: table, key: address)
        affinity = .set("affinity-web", in: table, key: address, flags: [.dynamic, .timeout], timeout: .seconds(10800))
        localRanges = .set("local-ranges", in: table, key: address, flags: [.interval])
    }

    var isIPv6: Bool { table.family == .ip6 }
    var daddr: NFTField { isIPv6 ? .ip6Daddr : .ipDaddr }
    var saddr: NFTField { isIPv6 ? .ip6Saddr : .ipSaddr }
    func ip(_ v4: String, _ v6: String) -> NFTValue { isIPv6 ? NFTValue(ipv6: v6)! : NFTValue(ipv4: v4)! }

    /// Everything, in one batch.
    var batch: NFTBatch {
        var batch = NFTBatch()
        batch.add(table)
        for set in [serviceIPs, clusterIPs, affinity, localRanges] { batch.add(set) }
        for chain in [services, natPrerouting, natPostrouting, filterInput] { batch.add(chain) }
        let endpoint1 = NFTChain.regular("endpoint-1", in: table)
        let endpoint2 = NFTChain.regular("endpoint-2", in: table)
        let service = NFTChain.regular("service-web", in: table)
        let mark = NFTChain.regular("mark-for-masquerade", in: table)
        let reject = NFTChain.regular("reject-chain", in: table)
        for chain in [endpoint1, endpoint2, service, mark, reject] { batch.add(chain) }

        batch.add(NFTRule(in: natPrerouting, [.jump("services")]))
        batch.add(NFTRule(in: services, [.lookup([daddr, .l4proto, .thDport], vmap: "service-ips")]))
        batch.add(NFTRule(in: services, [.fibDaddrTypeLocal(), .jump("reject-chain")], comment: "node ports"))
        batch.add(NFTRule(in: mark, [.setMark(orBits: 0x4000)]))
        batch.add(NFTRule(in: natPostrouting, [.mark(hasBits: 0x4000, isSet: false), .return]))
        batch.add(NFTRule(in: natPostrouting, [.setMark(xorBits: 0x4000), .masquerade(fullyRandom: true)]))
        batch.add(NFTRule(in: service, [.lookup([saddr], set: "affinity-web"), .goto("endpoint-1")]))
        batch.add(NFTRule(in: service, [.numgen(.inc, vmap: [.goto("endpoint-1"), .goto("endpoint-2")])],
                          comment: "default/web:http"))
        for (chain, backend) in [(endpoint1, ip("10.1.0.5", "fd00:1::5")), (endpoint2, ip("10.1.0.6", "fd00:1::6"))] {
            batch.add(NFTRule(in: chain, [.match(saddr, backend), .jump("mark-for-masquerade")]))
            batch.add(NFTRule(in: chain, [.dynset(.update, set: "affinity-web", key: [saddr], timeout: .seconds(10800))]))
            batch.add(NFTRule(in: chain, [.match(.l4proto, .proto(.tcp)), .dnat(to: backend, port: 8080)]))
        }
        batch.add(NFTRule(in: reject, [.match(.l4proto, .proto(.tcp)), .reject(.tcpReset)]))
        batch.add(NFTRule(in: reject, [.reject(isIPv6 ? .icmpv6(.v6PortUnreachable) : .icmp(.portUnreachable))]))
        batch.add(NFTRule(in: filterInput, [.ctState([.new]), .lookup([daddr], set: "cluster-ips", negated: true), .counter]))
        batch.add(NFTRule(in: filterInput, [.match(saddr, prefix: NFTPrefix(isIPv6 ? "fd00:10::/32" : "10.0.0.0/12")!), .accept]))

        batch.add([.verdict(.concat(ip("172.30.0.41", "fd00:30::41"), .proto(.tcp), .port(80)), .goto("service-web"), comment: "default/web:http")], to: serviceIPs)
        batch.add([NFTSetElement(key: ip("172.30.0.41", "fd00:30::41"))], to: clusterIPs)
        batch.add([.prefix(NFTPrefix(isIPv6 ? "fd00:20::/64" : "192.168.0.0/16")!)], to: localRanges)
        return batch
    }
}

@Suite(.enabled(if: canUseNamespaces, "needs root, ip and nft"))
struct KernelRulesetTests {
    @Test(arguments: [NFTFamily.ip, .ip6])
    func oneBatchInstallsAReadableRuleset(family: NFTFamily) throws {
        let namespace = try TestNamespace()
        defer { namespace.remove() }
        let sample = SampleRuleset(family: family)
        let connection = try NFTConnection(networkNamespace: namespace.path)

        try connection.apply(sample.batch)

        let ruleset = try namespace.nft("list", "ruleset")
        print("nft list ruleset (\(family)):\n\(ruleset)")
        let address = family == .ip6 ? "ip6" : "ip"
        let backend = family == .ip6 ? "[fd00:1::5]:8080" : "10.1.0.5:8080"
        for expected in [
            "table \(family.rawValue) swift-kube-proxy",
            "\(address) daddr . meta l4proto . th dport vmap @service-ips",
            "type \(family == .ip6 ? "ipv6_addr" : "ipv4_addr") . inet_proto . inet_service : verdict",
            "numgen inc mod 2 vmap { 0 : goto endpoint-1, 1 : goto endpoint-2 }",
            "dnat to \(backend)",
            "masquerade fully-random",
            "reject with tcp reset",
            "update @affinity-web { \(address) saddr timeout 3h }",
            "\(address) saddr @affinity-web goto endpoint-1",
            "fib daddr type local jump reject-chain comment \"node ports\"",
            "comment \"default/web:http\"",
            "type nat hook prerouting priority dstnat; policy accept;",
            "meta mark set meta mark | 0x00004000",
            "ct state new \(address) daddr != @cluster-ips counter",
            "flags dynamic,timeout",
            family == .ip6 ? "ip6 saddr fd00:10::/32 accept" : "ip saddr 10.0.0.0/12 accept",
            family == .ip6 ? "fd00:20::/64" : "192.168.0.0/16",
            family == .ip6 ? "fd00:30::41 . tcp . 80 comment \"default/web:http\" : goto service-web"
                : "172.30.0.41 . tcp . 80 comment \"default/web:http\" : goto service-web",
        ] {
            #expect(ruleset.contains(expected), "missing: \(expected)")
        }
        // Only the namespace's ruleset changed; the same batch again is accepted (add is idempotent
        // for tables, chains and sets, rules are appended).
        #expect(try connection.contents(of: sample.table) != nil)
    }

    @Test func aBatchWithOneBadCommandAppliesNothing() throws {
        let namespace = try TestNamespace()
        defer { namespace.remove() }
        let connection = try NFTConnection(networkNamespace: namespace.path)
        let table = NFTTable(family: .ip, name: "swift-kube-proxy")
        let services = NFTChain.regular("services", in: table)
        var batch = NFTBatch()
        batch.add(table)
        batch.add(services)
        batch.add(NFTRule(in: services, [.accept]))
        batch.add(NFTRule(in: services, [.jump("no-such-chain")]))
        batch.add(NFTChain.regular("after", in: table))

        #expect {
            try connection.apply(batch)
        } throws: { error in
            guard case NFTError.commandFailed(let index, let command, let code) = error else { return false }
            return index == 3 && command == "add rule ip swift-kube-proxy services jump no-such-chain" && code == ENOENT
        }
        #expect(try connection.contents(of: table) == nil)
        #expect(try namespace.nft("list", "ruleset").isEmpty)
    }

    @Test func mapElementsAreAddedAndDeletedIncrementally() throws {
        let namespace = try TestNamespace()
        defer { namespace.remove() }
        let connection = try NFTConnection(networkNamespace: namespace.path)
        let sample = SampleRuleset()
        try connection.apply(sample.batch)
        let key = NFTValue.concat(NFTValue(ipv4: "172.30.0.99")!, .proto(.udp), .port(53))

        try connection.apply(NFTBatch([.addElements(sample.serviceIPs, [.verdict(key, .goto("service-web"))])]))
        #expect(try namespace.nft("list", "map", "ip", "swift-kube-proxy", "service-ips").contains("172.30.0.99 . udp . 53 : goto service-web"))

        try connection.apply(NFTBatch([.deleteElements(sample.serviceIPs, [.verdict(key, .goto("service-web"))])]))
        let after = try namespace.nft("list", "map", "ip", "swift-kube-proxy", "service-ips")
        #expect(!after.contains("172.30.0.99"))
        #expect(after.contains("172.30.0.41 . tcp . 80 comment \"default/web:http\" : goto service-web"))

        // Deleting an element that is not there fails the batch and names the command.
        #expect(throws: NFTError.commandFailed(index: 0, command: "delete element ip swift-kube-proxy service-ips { 1 element }", errno: ENOENT)) {
            try connection.apply(NFTBatch([.deleteElements(sample.serviceIPs, [.verdict(key, .goto("service-web"))])]))
        }

        // Nothing to send is not an error.
        try connection.apply(NFTBatch([.addElements(sample.serviceIPs, [])]))

        // Elements of a timeout set can carry their own timeout.
        let client = NFTSetElement(key: NFTValue(ipv4: "10.0.0.7")!, timeout: .seconds(600))
        try connection.apply(NFTBatch([.addElements(sample.affinity, [client])]))
        #expect(try namespace.nft("list", "set", "ip", "swift-kube-proxy", "affinity-web").contains("10.0.0.7 timeout 10m expires"))

        // Flushing a chain and a set keeps them.
        try connection.apply(NFTBatch([.flushSet(sample.serviceIPs), .flushChain(sample.services)]))
        let flushed = try namespace.nft("list", "table", "ip", "swift-kube-proxy")
        #expect(!flushed.contains("172.30.0.41 . tcp"))
        #expect(!flushed.contains("vmap @service-ips"))
        #expect(flushed.contains("map service-ips"))
    }

    @Test func readsBackTheNamesInOurTableOnly() throws {
        let namespace = try TestNamespace()
        defer { namespace.remove() }
        let connection = try NFTConnection(networkNamespace: namespace.path)
        let sample = SampleRuleset()
        try namespace.nft("add", "table", "ip", "foreign")
        try namespace.nft("add", "chain", "ip", "foreign", "theirs")
        try namespace.nft("add", "set", "ip", "foreign", "their-set", "{ type ipv4_addr; }")
        #expect(try connection.contents(of: sample.table) == nil)

        try connection.apply(sample.batch)
        let contents = try #require(try connection.contents(of: sample.table))
        #expect(Set(contents.chains) == ["services", "nat-prerouting", "nat-postrouting", "filter-input", "endpoint-1",
                                         "endpoint-2", "service-web", "mark-for-masquerade", "reject-chain"])
        #expect(Set(contents.sets) == ["service-ips", "cluster-ips", "affinity-web", "local-ranges"])
    }

    @Test(arguments: [NFTFamily.ip, .ip6])
    func deletingOurTableLeavesForeignTablesAlone(family: NFTFamily) throws {
        let namespace = try TestNamespace()
        defer { namespace.remove() }
        let connection = try NFTConnection(networkNamespace: namespace.path)
        let sample = SampleRuleset(family: family)
        try namespace.nft("add", "table", family.rawValue, "foreign")
        try namespace.nft("add", "chain", family.rawValue, "foreign", "input", "{ type filter hook input priority 0; }")
        try namespace.nft("add", "rule", family.rawValue, "foreign", "input", "counter")
        try connection.apply(sample.batch)

        #expect(try connection.deleteTableIfPresent(sample.table))
        #expect(try connection.deleteTableIfPresent(sample.table) == false)

        let ruleset = try namespace.nft("list", "ruleset")
        #expect(!ruleset.contains("swift-kube-proxy"))
        #expect(ruleset.contains("table \(family.rawValue) foreign"))
        #expect(ruleset.contains("counter packets"))
    }
}

@Suite(.enabled(if: canUseNamespaces, "needs root, ip and nft"))
struct LargeBatchTests {
    /// Thousands of commands in one batch: every acknowledgement must arrive (the socket buffers
    /// are sized for them) and element lists are split across messages.
    @Test func aThousandServicesInOneBatch() throws {
        let namespace = try TestNamespace()
        defer { namespace.remove() }
        let connection = try NFTConnection(networkNamespace: namespace.path)
        let sample = SampleRuleset()
        var batch = NFTBatch()
        batch.add(sample.table)
        batch.add(sample.serviceIPs)
        var elements: [NFTSetElement] = []
        for index in 0..<1000 {
            let chain = NFTChain.regular("service-\(index)-default-web-http-with-a-long-name", in: sample.table)
            batch.add(chain)
            batch.add(NFTRule(in: chain, [.numgen(.random, vmap: [.accept, .drop, .accept])], comment: "service \(index)"))
            batch.add(NFTRule(in: chain, [.counter, .accept]))
            elements.append(.verdict(.concat(NFTValue(bytes: [10, 96, UInt8(index / 256), UInt8(index % 256)]), .proto(.tcp), .port(80)), .goto(chain.name)))
        }
        batch.add(elements, to: sample.serviceIPs)
        try connection.apply(batch)

        let contents = try #require(try connection.contents(of: sample.table))
        #expect(contents.chains.count == 1000)
        let map = try namespace.nft("list", "map", "ip", "swift-kube-proxy", "service-ips")
        #expect(map.contains("10.96.3.231 . tcp . 80 : goto service-999-default-web-http-with-a-long-name"))

        // Replacing all of it in one more batch: flush, delete, re-add.
        var teardown = NFTBatch([.flushSet(sample.serviceIPs)])
        for index in 0..<1000 {
            let chain = NFTChain.regular("service-\(index)-default-web-http-with-a-long-name", in: sample.table)
            teardown.flush(chain)
            teardown.delete(chain)
        }
        try connection.apply(teardown)
        #expect(try connection.contents(of: sample.table)?.chains == [])
    }
}
