import Testing
@testable import NFTables

/// The model and its encoding, without a kernel.
struct DataTypeTests {
    @Test func concatenatedKeyTypesUseNftTypeNumbersAndPaddedLengths() {
        let serviceKey = NFTDataType.concat(.ipv4Addr, .inetProto, .inetService)
        #expect(serviceKey.typeID == 0x730d)  // 7 << 12 | 12 << 6 | 13, as nft registers it
        #expect(serviceKey.length == 12)
        #expect(serviceKey.description == "ipv4_addr . inet_proto . inet_service")
        #expect(NFTDataType.concat(.inetProto, .inetService).typeID == 0x30d)
        #expect(NFTDataType.concat(.ipv6Addr, .inetService).length == 20)
        #expect(NFTDataType.concat(.ipv6Addr, .inetService).fieldLengths == [16, 2])
    }

    @Test func singleKeyTypesKeepTheirNaturalLength() {
        #expect(NFTDataType.ipv4Addr.typeID == 7 && NFTDataType.ipv4Addr.length == 4)
        #expect(NFTDataType.ipv6Addr.typeID == 8 && NFTDataType.ipv6Addr.length == 16)
        #expect(NFTDataType.inetService.typeID == 13 && NFTDataType.inetService.length == 2)
        #expect(NFTDataType.inetProto.typeID == 12 && NFTDataType.inetProto.length == 1)
        #expect(NFTDataType.ifname.typeID == 41 && NFTDataType.ifname.length == 16)
        #expect(NFTDataType.mark.typeID == 19)
    }

    @Test func setUserdataRecordsByteOrderLikeNft() {
        let table = NFTTable(family: .ip, name: "t")
        // nft: key byte order 2 (big endian) for an address set.
        #expect(NFTSet.set("s", in: table, key: .ipv4Addr).userdata == [0, 4, 2, 0, 0, 0])
        // A verdict map keyed by a concatenation: key and data byte order 0.
        let map = NFTSet.map("m", in: table, key: .concat(.ipv4Addr, .inetProto, .inetService), to: .verdict)
        #expect(map.userdata == [0, 4, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0])
        #expect(map.kernelFlags == 0x8)
        #expect(NFTSet.set("c", in: table, key: .concat(.ipv6Addr, .inetService), flags: [.interval]).kernelFlags == 0x84)
        #expect(NFTSet.set("a", in: table, key: .ipv4Addr, flags: [.dynamic, .timeout]).kernelFlags == 0x30)
    }
}

struct ValueTests {
    @Test func elementKeysAreRegisterBytes() {
        let key = NFTValue.concat(NFTValue(ipv4: "10.96.0.1")!, .proto(.tcp), .port(80))
        #expect(key.bytes == [10, 96, 0, 1, 6, 0, 0, 0, 0, 80, 0, 0])
        #expect(NFTValue.ifname("eth0").bytes == Array("eth0".utf8) + Array(repeating: 0, count: 12))
        #expect(NFTValue(ipv6: "fd00::1")!.bytes == [0xfd] + Array(repeating: 0, count: 14) + [1])
        #expect(NFTValue(ipv4: "300.1.1.1") == nil)
        #expect(NFTValue(ipAddress: "not an address") == nil)
    }

    @Test func prefixesClearHostBitsAndKnowTheirRange() throws {
        let prefix = try #require(NFTPrefix("10.1.2.3/12"))
        #expect(prefix.address.bytes == [10, 0, 0, 0])
        #expect(prefix.last.bytes == [10, 15, 255, 255])
        #expect(prefix.description == "10.0.0.0/12")
        #expect(NFTPrefix("10.0.0.0/33") == nil)
        #expect(NFTPrefix("fd00::/64")!.last.bytes == [0xfd] + Array(repeating: 0, count: 7) + Array(repeating: 0xff, count: 8))
    }

    @Test func intervalElementsBecomeStartAndEndElementsUnlessConcatenated() throws {
        let element = NFTSetElement.prefix(try #require(NFTPrefix("192.168.0.0/16")))
        let plain = NetlinkBatchEncoder.kernelElements(for: element, layout: .init(.set("s", in: NFTTable(family: .ip, name: "t"), key: .ipv4Addr, flags: [.interval])))
        #expect(plain.map(\.key.bytes) == [[192, 168, 0, 0], [192, 169, 0, 0]])
        #expect(plain.map(\.isIntervalEnd) == [false, true])

        // A range reaching the top of the address space has no end element.
        let top = NFTSetElement.prefix(try #require(NFTPrefix("255.0.0.0/8")))
        #expect(NetlinkBatchEncoder.kernelElements(for: top, layout: .init(.set("s", in: NFTTable(family: .ip, name: "t"), key: .ipv4Addr, flags: [.interval]))).count == 1)

        let concatenated = NFTSet.set("c", in: NFTTable(family: .ip, name: "t"), key: .concat(.ipv4Addr, .ipv4Addr), flags: [.interval])
        let range = NFTSetElement.range(.concat(NFTValue(ipv4: "10.0.0.1")!, NFTValue(ipv4: "192.168.0.0")!),
                                        .concat(NFTValue(ipv4: "10.0.0.1")!, NFTValue(ipv4: "192.168.255.255")!))
        let kernel = NetlinkBatchEncoder.kernelElements(for: range, layout: .init(concatenated))
        #expect(kernel.count == 1)
        #expect(kernel[0].keyEnd?.bytes == [10, 0, 0, 1, 192, 168, 255, 255])
    }
}

struct StatementTests {
    @Test func concatenationLoadsIntoTheRegistersNftUses() {
        let statement = NFTStatement.lookup([.ipDaddr, .l4proto, .thDport], vmap: "service-ips")
        #expect(statement.expressions == [
            .payload(base: .network, offset: 16, length: 4, into: .r1),
            .meta(.l4proto, into: NFTRegister(rawValue: 9)),
            .payload(base: .transport, offset: 2, length: 2, into: NFTRegister(rawValue: 10)),
            .lookup(.named("service-ips"), from: .r1, into: .verdict, inverted: false),
        ])
        #expect(statement.description == "ip daddr . meta l4proto . th dport vmap @service-ips")
        // A 16-byte address fills r1, so the port goes to r2, as nft does it.
        #expect(NFTField.loadConcatenation([.ip6Daddr, .thDport]).last == .payload(base: .transport, offset: 2, length: 2, into: .r2))
    }

    @Test func dnatPutsAddressAndPortInRegisters() {
        let statement = NFTStatement.dnat(to: NFTValue(ipv4: "10.1.0.5")!, port: 8080)
        #expect(statement.expressions == [
            .immediate(NFTValue(bytes: [10, 1, 0, 5]), into: .r1),
            .immediate(NFTValue(bytes: [0x1f, 0x90]), into: .r2),
            .nat(.dnat, family: .ip, address: .r1, port: .r2, flags: 2),
        ])
        #expect(statement.description == "dnat ip to 10.1.0.5:8080")
    }

    @Test func numgenBuildsAnAnonymousVerdictMap() throws {
        let statement = NFTStatement.numgen(.random, vmap: [.goto("a"), .goto("b")])
        guard case .lookup(.anonymous(let set), _, .verdict?, false) = statement.expressions.last else {
            Issue.record("expected a verdict lookup in an anonymous map")
            return
        }
        #expect(set.elements == [.verdict(.integer(0), .goto("a")), .verdict(.integer(1), .goto("b"))])
        #expect(statement.description == "numgen random mod 2 vmap { 0 : goto a, 1 : goto b }")
    }

    @Test func ruleCommentIsNftUserdata() {
        let rule = NFTRule(table: NFTTable(family: .ip, name: "t"), chain: "c", [.accept], comment: "hello")
        #expect(rule.userdata == [0, 6] + Array("hello".utf8) + [0])
        #expect(rule.description == "accept comment \"hello\"")
    }
}

struct BatchTests {
    let table = NFTTable(family: .ip, name: "swift-kube-proxy")

    @Test func commandsKeepTheirOrderAndReadLikeNft() {
        let chain = NFTChain.base("nat-prerouting", in: table, type: .nat, hook: .prerouting, priority: NFTPriority.dstnat)
        let map = NFTSet.map("service-ips", in: table, key: .concat(.ipv4Addr, .inetProto, .inetService), to: .verdict)
        var batch = NFTBatch()
        batch.add(table)
        batch.add(chain)
        batch.add(map)
        batch.add(NFTRule(in: chain, [.lookup([.ipDaddr, .l4proto, .thDport], vmap: "service-ips")]))
        #expect(batch.commands.map(\.description) == [
            "add table ip swift-kube-proxy",
            "add chain ip swift-kube-proxy nat-prerouting { type nat hook prerouting priority -100; policy accept; }",
            "add map ip swift-kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }",
            "add rule ip swift-kube-proxy nat-prerouting ip daddr . meta l4proto . th dport vmap @service-ips",
        ])
    }

    @Test func encodedMessagesMapBackToTheirCommands() throws {
        let chain = NFTChain.regular("service-web", in: table)
        var batch = NFTBatch()
        batch.add(table)
        batch.add(chain)
        batch.add(NFTRule(in: chain, [.numgen(.inc, vmap: [.goto("a"), .goto("b")])]))
        let encoded = try NetlinkBatchEncoder.encode(batch, firstSequence: 100)

        // NEWTABLE, NEWCHAIN, then the rule's anonymous map: NEWSET, NEWSETELEM, and NEWRULE.
        #expect(encoded.messageTypes == [0, 3, 9, 12, 6])
        // Sequence 100 is batch begin; 106 batch end.
        #expect(encoded.commandForSequence == [101: 0, 102: 1, 103: 2, 104: 2, 105: 2])
        #expect(encoded.nextSequence == 107)
        // The buffer starts with NFNL_MSG_BATCH_BEGIN (0x10).
        #expect(encoded.bytes[4] == 0x10)
    }

    @Test func largeElementListsAreSplitAcrossMessages() throws {
        let map = NFTSet.map("service-ips", in: table, key: .concat(.ipv4Addr, .inetProto, .inetService), to: .verdict)
        let elements = (0..<1000).map { index in
            NFTSetElement.verdict(.concat(NFTValue(bytes: [10, 96, UInt8(index / 256), UInt8(index % 256)]), .proto(.tcp), .port(80)),
                                  .goto("service-\(index)-with-a-long-chain-name-like-kube-proxy-uses"))
        }
        let encoded = try NetlinkBatchEncoder.encode(NFTBatch([.addElements(map, elements)]), firstSequence: 1)
        #expect(encoded.messageTypes.count == (1000 + NetlinkBatchEncoder.elementsPerMessage - 1) / NetlinkBatchEncoder.elementsPerMessage)
        #expect(Set(encoded.commandForSequence.values) == [0])
    }

    @Test func malformedElementsAreRefusedBeforeSending() {
        let map = NFTSet.map("service-ips", in: table, key: .concat(.ipv4Addr, .inetProto, .inetService), to: .verdict)
        let shortKey = NFTSetElement.verdict(NFTValue(ipv4: "10.0.0.1")!, .accept)
        #expect(throws: NFTError.invalidCommand(index: 1, command: "add element ip swift-kube-proxy service-ips { 1 element }",
                                                reason: "element key 0x0a000001 is 4 bytes, ipv4_addr . inet_proto . inet_service needs 12")) {
            try NetlinkBatchEncoder.encode(NFTBatch([.addTable(table), .addElements(map, [shortKey])]), firstSequence: 1)
        }
        let noValue = NFTSetElement(key: .concat(NFTValue(ipv4: "10.0.0.1")!, .proto(.tcp), .port(80)))
        #expect(throws: NFTError.self) {
            try NetlinkBatchEncoder.encode(NFTBatch([.addElements(map, [noValue])]), firstSequence: 1)
        }
    }
}
