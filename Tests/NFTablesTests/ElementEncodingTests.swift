import CNetfilter
import Testing
@testable import NFTables

/// Our element messages are written attribute by attribute with libmnl; libnftnl's element objects
/// are the reference for what `nft` sends. The two must give the same bytes.
struct ElementEncodingTests {
    static let table = NFTTable(family: .ip, name: "swift-kube-proxy")

    /// One NEWSETELEM message for `elements` of `set`, written by `build`.
    static func message(_ build: (UnsafeMutablePointer<nlmsghdr>) -> Void) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let length = buffer.withUnsafeMutableBytes { raw -> Int in
            let nlh = nftnl_nlmsg_build_hdr(raw.baseAddress!.assumingMemoryBound(to: CChar.self), UInt16(NFT_MSG_NEWSETELEM.rawValue),
                                            UInt16(NFPROTO_IPV4), UInt16(NLM_F_CREATE | NLM_F_ACK), 7)!
            build(nlh)
            return Int(nlh.pointee.nlmsg_len)
        }
        return Array(buffer.prefix(length))
    }

    static func ours(_ elements: [NFTSetElement], of set: NFTSet, id: UInt32?) -> [UInt8] {
        message { nlh in
            ElementWriter.header(nlh, table: table.name, set: set.name, id: id)
            let list = mnl_attr_nest_start(nlh, UInt16(NFTA_SET_ELEM_LIST_ELEMENTS.rawValue))
            var index = 0, scratch: [UInt8] = []
            for position in elements.indices {
                NetlinkBatchEncoder.forEachKernelElement(of: elements, at: position, layout: .init(set)) { kernel in
                    index += 1
                    ElementWriter.element(nlh, elements, kernel, index: index, userdata: &scratch)
                }
            }
            mnl_attr_nest_end(nlh, list)
        }
    }

    static func libnftnl(_ elements: [NFTSetElement], of set: NFTSet, id: UInt32?) -> [UInt8] {
        message { nlh in
            let s = nftnl_set_alloc()!
            defer { nftnl_set_free(s) }
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_FAMILY.rawValue), UInt32(NFPROTO_IPV4))
            nftnl_set_set_str(s, UInt16(NFTNL_SET_TABLE.rawValue), table.name)
            nftnl_set_set_str(s, UInt16(NFTNL_SET_NAME.rawValue), set.name)
            if let id { nftnl_set_set_u32(s, UInt16(NFTNL_SET_ID.rawValue), id) }
            for element in elements {
                for kernel in NetlinkBatchEncoder.kernelElements(for: element, layout: .init(set)) {
                    let e = nftnl_set_elem_alloc()!
                    func bytes(_ a: Int, _ value: [UInt8]) {
                        value.withUnsafeBytes { _ = nftnl_set_elem_set(e, UInt16(a), $0.baseAddress, UInt32($0.count)) }
                    }
                    bytes(NFTNL_SET_ELEM_KEY, kernel.key.bytes)
                    if let end = kernel.keyEnd { bytes(NFTNL_SET_ELEM_KEY_END, end.bytes) }
                    if kernel.isIntervalEnd { nftnl_set_elem_set_u32(e, UInt16(NFTNL_SET_ELEM_FLAGS), 1) }
                    switch kernel.value {
                    case .verdict(let verdict):
                        nftnl_set_elem_set_u32(e, UInt16(NFTNL_SET_ELEM_VERDICT), UInt32(bitPattern: verdict.code))
                        if let chain = verdict.chain { nftnl_set_elem_set_str(e, UInt16(NFTNL_SET_ELEM_CHAIN), chain) }
                    case .data(let value): bytes(NFTNL_SET_ELEM_DATA, value.bytes)
                    case nil: break
                    }
                    if let timeout = kernel.timeout { nftnl_set_elem_set_u64(e, UInt16(NFTNL_SET_ELEM_TIMEOUT), timeout.milliseconds) }
                    if let userdata = kernel.userdata { bytes(NFTNL_SET_ELEM_USERDATA, userdata) }
                    nftnl_set_elem_add(s, e)
                }
            }
            nftnl_set_elems_nlmsg_build_payload(nlh, s)
        }
    }

    static let frontend = NFTValue.concat(NFTValue(ipv4: "172.30.0.41")!, .proto(.tcp), .port(80))

    @Test func verdictElementsWithCommentsMatchLibnftnl() {
        let map = NFTSet.map("service-ips", in: Self.table, key: .concat(.ipv4Addr, .inetProto, .inetService), to: .verdict)
        let elements = [
            NFTSetElement.verdict(Self.frontend, .goto("pick-10"), comment: "default/web:http"),
            NFTSetElement.verdict(Self.frontend, .drop),
            NFTSetElement.verdict(Self.frontend, .goto("reject-chain"), comment: String(repeating: "ü", count: 100)),
        ]
        #expect(Self.ours(elements, of: map, id: nil) == Self.libnftnl(elements, of: map, id: nil))
    }

    @Test func dataElementsAndPlainSetElementsMatchLibnftnl() {
        let slots = NFTSet.map("service-endpoints", in: Self.table, key: .concat(.ipv4Addr, .inetProto, .inetService, .integer(bytes: 4)),
                               to: .data(.concat(.ipv4Addr, .inetService)))
        let endpoints = (0..<5).map { i in
            NFTSetElement(key: .concat(Self.frontend, .integer(UInt32(i))), value: .data(.concat(NFTValue(ipv4: "10.180.0.\(i + 2)")!, .port(8080))))
        }
        #expect(Self.ours(endpoints, of: slots, id: 3) == Self.libnftnl(endpoints, of: slots, id: 3))
        let set = NFTSet.set("cluster-ips", in: Self.table, key: .ipv4Addr, flags: [.timeout])
        let plain = [NFTSetElement(key: NFTValue(ipv4: "172.30.0.41")!), NFTSetElement(key: NFTValue(ipv4: "172.30.0.42")!, timeout: .seconds(10800))]
        #expect(Self.ours(plain, of: set, id: nil) == Self.libnftnl(plain, of: set, id: nil))
    }

    @Test func intervalElementsMatchLibnftnl() throws {
        let plain = NFTSet.set("ranges", in: Self.table, key: .ipv4Addr, flags: [.interval])
        let prefixes = [NFTSetElement.prefix(try #require(NFTPrefix("10.0.0.0/8"))), .prefix(try #require(NFTPrefix("255.0.0.0/8")))]
        #expect(Self.ours(prefixes, of: plain, id: nil) == Self.libnftnl(prefixes, of: plain, id: nil))
        let concatenated = NFTSet.set("allow", in: Self.table, key: .concat(.ipv4Addr, .inetProto, .inetService, .ipv4Addr), flags: [.interval])
        let range = NFTSetElement.range(.concat(Self.frontend, NFTValue(ipv4: "203.0.113.0")!), .concat(Self.frontend, NFTValue(ipv4: "203.0.113.255")!))
        #expect(Self.ours([range], of: concatenated, id: nil) == Self.libnftnl([range], of: concatenated, id: nil))
    }
}
