import CNetfilter
#if canImport(Glibc)
import Glibc
#endif

/// Reading a named set's elements back from the kernel (`NFT_MSG_GETSETELEM` with `NLM_F_DUMP`).
///
/// A reply message is `nfgenmsg` then `NFTA_SET_ELEM_LIST_TABLE`, `_SET`, and
/// `NFTA_SET_ELEM_LIST_ELEMENTS` holding one `NFTA_LIST_ELEM` per element, each with
/// `NFTA_SET_ELEM_KEY` and (maps) `NFTA_SET_ELEM_DATA`, both nesting `NFTA_DATA_VALUE` bytes (the
/// layout of the kernel's `nf_tables_fill_setelem`). The parse is over a copy of the message's bytes,
/// in safe code; only the request and the copy touch raw memory (in `NetlinkSocket`).
public enum NFTSetElementDump {
    /// `NFT_MSG_DESTROYSETELEM` (Linux 6.3): a delete that ignores elements that are not there. The
    /// system headers here predate it, so its number (after `NFT_MSG_DESTROYSET`) is spelled out.
    static let destroySetElement = nf_tables_msg_types(rawValue: 30)

    /// The elements in one reply message (all of it: header included); keys and data values only
    /// (verdicts, timeouts, expirations and comments are not read back).
    public static func elements(inMessage message: [UInt8]) -> [NFTSetElement] {
        let nlmsghdrLength = 16, nfgenmsgLength = 4
        var elements: [NFTSetElement] = []
        for list in attributes(message, from: nlmsghdrLength + nfgenmsgLength) where list.type == UInt16(NFTA_SET_ELEM_LIST_ELEMENTS.rawValue) {
            for item in attributes(message, in: list.payload) where item.type == UInt16(NFTA_LIST_ELEM.rawValue) {
                var key: NFTValue?, data: NFTValue?
                for field in attributes(message, in: item.payload) {
                    switch field.type {
                    case UInt16(NFTA_SET_ELEM_KEY.rawValue): key = dataValue(message, field.payload)
                    case UInt16(NFTA_SET_ELEM_DATA.rawValue): data = dataValue(message, field.payload)
                    default: break
                    }
                }
                if let key { elements.append(NFTSetElement(key: key, value: data.map { .data($0) })) }
            }
        }
        return elements
    }

    /// One netlink attribute: its type (without the nested and byte-order flags) and where its payload is.
    struct Attribute {
        var type: UInt16
        var payload: Range<Int>
    }

    /// The attributes that follow one another from `start` to the end of `bytes`.
    static func attributes(_ bytes: [UInt8], from start: Int) -> [Attribute] {
        attributes(bytes, in: start..<bytes.count)
    }

    /// The attributes laid one after another in `range` (each `nla_len`, `nla_type` in host order,
    /// padded to 4 bytes); a truncated one ends the list.
    static func attributes(_ bytes: [UInt8], in range: Range<Int>) -> [Attribute] {
        var result: [Attribute] = []
        var offset = range.lowerBound
        while offset + 4 <= range.upperBound {
            let length = Int(UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8)
            let type = (UInt16(bytes[offset + 2]) | UInt16(bytes[offset + 3]) << 8) & 0x3fff  // NLA_TYPE_MASK
            guard length >= 4, offset + length <= range.upperBound else { break }
            result.append(Attribute(type: type, payload: offset + 4..<offset + length))
            offset += (length + 3) & ~3
        }
        return result
    }

    /// The `NFTA_DATA_VALUE` bytes nested in a key or data attribute.
    private static func dataValue(_ bytes: [UInt8], _ range: Range<Int>) -> NFTValue? {
        attributes(bytes, in: range).first { $0.type == UInt16(NFTA_DATA_VALUE.rawValue) }.map { NFTValue(bytes: Array(bytes[$0.payload])) }
    }
}

extension NetlinkSocket {
    /// Every element of the named set `name` in `table`, or nil if there is no such set. One dump
    /// of that set only.
    func elements(of name: String, in table: NFTTable, sequence: inout UInt32) throws(NFTError) -> [NFTSetElement]? {
        let request = sequence
        sequence &+= 1
        var elements: [NFTSetElement] = []
        do throws(NFTError) {
            try self.request("list elements \(table) \(name)", type: NFT_MSG_GETSETELEM, family: table.family,
                             flags: NLM_F_REQUEST | NLM_F_DUMP, sequence: request,
                             build: { nlh in
                                 mnl_attr_put_strz(nlh, UInt16(NFTA_SET_ELEM_LIST_TABLE.rawValue), table.name)
                                 mnl_attr_put_strz(nlh, UInt16(NFTA_SET_ELEM_LIST_SET.rawValue), name)
                             },
                             each: { nlh in
                                 // Copied out: the receive buffer is reused by the next read.
                                 let message = Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(nlh), count: Int(nlh.pointee.nlmsg_len)))
                                 elements += NFTSetElementDump.elements(inMessage: message)
                             })
        } catch .system(_, let code) where code == ENOENT {
            return nil
        }
        return elements
    }
}

extension NFTConnection {
    /// Every element of `set` as the kernel holds it now (keys and data values), or nil if the set
    /// does not exist. Entries a timed set has let expire are not listed.
    public func elements(of set: NFTSet) throws(NFTError) -> [NFTSetElement]? {
        try withSocket { (socket, sequence) throws(NFTError) in try socket.elements(of: set.name, in: set.table, sequence: &sequence) }
    }
}
