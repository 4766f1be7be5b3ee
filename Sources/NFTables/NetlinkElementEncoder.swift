import CNetfilter

/// Set elements written as netlink attributes with libmnl, straight into the batch buffer. Part of
/// the module's C interop with `NetlinkBatchEncoder.swift`: the attributes and their order are
/// libnftnl's (`nftnl_set_elem_nlmsg_build_payload`), without its per-element heap objects.
enum ElementWriter {
    /// `NFTA_SET_ELEM_LIST_SET` (or `_SET_ID` for a set of this batch), then `_TABLE`.
    static func header(_ nlh: UnsafeMutablePointer<nlmsghdr>, table: String, set: String, id: UInt32?) {
        mnl_attr_put_strz(nlh, UInt16(NFTA_SET_ELEM_LIST_SET.rawValue), set)
        if let id { mnl_attr_put_u32(nlh, UInt16(NFTA_SET_ELEM_LIST_SET_ID.rawValue), id.bigEndian) }
        mnl_attr_put_strz(nlh, UInt16(NFTA_SET_ELEM_LIST_TABLE.rawValue), table)
    }

    /// One element, nested under attribute type `index` (1, 2, … as libnftnl numbers them).
    /// `userdata` is scratch space reused across elements.
    static func element(_ nlh: UnsafeMutablePointer<nlmsghdr>, _ elements: [NFTSetElement], _ kernel: NetlinkBatchEncoder.KernelElementRef,
                        index: Int, userdata: inout [UInt8]) {
        let nest = mnl_attr_nest_start(nlh, UInt16(truncatingIfNeeded: index))
        defer { mnl_attr_nest_end(nlh, nest) }
        if let end = kernel.intervalEnd {
            mnl_attr_put_u32(nlh, UInt16(NFTA_SET_ELEM_FLAGS.rawValue), UInt32(1).bigEndian)  // NFT_SET_ELEM_INTERVAL_END
            data(nlh, UInt16(NFTA_SET_ELEM_KEY.rawValue), end)
            return
        }
        let i = kernel.index  // fields read in place: a copy of the element is several retains
        if let timeout = elements[i].timeout { mnl_attr_put_u64(nlh, UInt16(NFTA_SET_ELEM_TIMEOUT.rawValue), timeout.milliseconds.bigEndian) }
        data(nlh, UInt16(NFTA_SET_ELEM_KEY.rawValue), elements[i].key)
        if let end = kernel.keyEnd { data(nlh, UInt16(NFTA_SET_ELEM_KEY_END.rawValue), end) }
        switch elements[i].value {
        case .verdict(let verdict):
            let outer = mnl_attr_nest_start(nlh, UInt16(NFTA_SET_ELEM_DATA.rawValue))
            let inner = mnl_attr_nest_start(nlh, UInt16(NFTA_DATA_VERDICT.rawValue))
            mnl_attr_put_u32(nlh, UInt16(NFTA_VERDICT_CODE.rawValue), UInt32(bitPattern: verdict.code).bigEndian)
            if let chain = verdict.chain { mnl_attr_put_strz(nlh, UInt16(NFTA_VERDICT_CHAIN.rawValue), chain) }
            mnl_attr_nest_end(nlh, inner)
            mnl_attr_nest_end(nlh, outer)
        case .data(let value):
            data(nlh, UInt16(NFTA_SET_ELEM_DATA.rawValue), value)
        case nil:
            break
        }
        if let comment = elements[i].comment {
            // NFTNL_UDATA_SET_ELEM_COMMENT (type 0): the comment, cut to 127 bytes, NUL-terminated.
            userdata.removeAll(keepingCapacity: true)
            userdata.append(0)
            userdata.append(0)
            userdata.append(contentsOf: comment.utf8.prefix(127))
            userdata.append(0)
            userdata[1] = UInt8(userdata.count - 2)
            userdata.withUnsafeBytes { mnl_attr_put(nlh, UInt16(NFTA_SET_ELEM_USERDATA.rawValue), $0.count, $0.baseAddress) }
        }
    }

    /// `type { NFTA_DATA_VALUE bytes }`.
    private static func data(_ nlh: UnsafeMutablePointer<nlmsghdr>, _ type: UInt16, _ value: NFTValue) {
        let nest = mnl_attr_nest_start(nlh, type)
        value.withUnsafeBytes { mnl_attr_put(nlh, UInt16(NFTA_DATA_VALUE.rawValue), $0.count, $0.baseAddress) }
        mnl_attr_nest_end(nlh, nest)
    }

    /// At most how many bytes `element` takes in a message (for sizing the batch buffer).
    static func maximumSize(_ element: NFTSetElement) -> Int {
        func attribute(_ payload: Int) -> Int { 4 + NFTDataType.padded(payload) }
        var size = 4 + 8 + 12 + 2 * attribute(attribute(element.key.count))  // nest, flags, timeout, key and an end
        switch element.value {
        case .verdict(let verdict): size += 4 + 4 + 8 + attribute((verdict.chain?.utf8.count ?? 0) + 1)
        case .data(let value): size += attribute(attribute(value.count))
        case nil: break
        }
        if element.comment != nil { size += attribute(2 + 128) }
        return size
    }
}
