import ProxyModel

/// ctnetlink messages as bytes: the dump request, the delete request, and the decoding of the
/// entries a dump returns. Pure byte work, so it is tested without a kernel.
enum CTNetlinkMessage {
    static let headerSize = 16
    static let nfgenmsgSize = 4
    static let nestedFlag: UInt16 = 0x8000      // NLA_F_NESTED
    static let typeMask: UInt16 = 0x3fff        // NLA_TYPE_MASK

    static func messageType(_ op: CT.Message) -> UInt16 { CT.subsystem << 8 | op.rawValue }

    static func familyCode(_ family: IPAddress.Family) -> UInt8 { family == .ipv4 ? 2 : 10 }   // AF_INET, AF_INET6

    /// Every entry of one address family.
    static func dumpRequest(family: IPAddress.Family, sequence: UInt32) -> [UInt8] {
        var m = header(type: messageType(.get), flags: CT.request | CT.dump, sequence: sequence, family: family)
        finish(&m)
        return m
    }

    /// Deletes exactly this entry (identified by its original tuple and zone); the kernel acks it.
    static func deleteRequest(_ flow: ConntrackFlow, sequence: UInt32) -> [UInt8] {
        var m = header(type: messageType(.delete), flags: CT.request | CT.ack, sequence: sequence, family: flow.family)
        nested(&m, CT.Attr.tupleOrig.rawValue) { encode(flow.original, into: &$0) }
        if flow.zone != 0 { attribute(&m, CT.Attr.zone.rawValue, bigEndian: flow.zone) }
        finish(&m)
        return m
    }

    private static func header(type: UInt16, flags: UInt16, sequence: UInt32, family: IPAddress.Family) -> [UInt8] {
        var m: [UInt8] = []
        m.reserveCapacity(128)
        append(&m, UInt32(0))           // nlmsg_len, set by finish
        append(&m, type)
        append(&m, flags)
        append(&m, sequence)
        append(&m, UInt32(0))           // nlmsg_pid: the kernel
        m.append(familyCode(family))    // nfgenmsg.nfgen_family
        m.append(CT.nfnetlinkV0)   // nfgenmsg.version
        m += [0, 0]                     // nfgenmsg.res_id
        return m
    }

    private static func finish(_ m: inout [UInt8]) { put(&m, at: 0, UInt32(m.count)) }

    private static func encode(_ tuple: ConntrackTuple, into m: inout [UInt8]) {
        nested(&m, CT.Tuple.ip.rawValue) { m in
            let v4 = tuple.source.isIPv4
            attribute(&m, (v4 ? CT.IP.v4Source : .v6Source).rawValue, tuple.source.bytes)
            attribute(&m, (v4 ? CT.IP.v4Destination : .v6Destination).rawValue, tuple.destination.bytes)
        }
        nested(&m, CT.Tuple.proto.rawValue) { m in
            attribute(&m, CT.Proto.number.rawValue, [tuple.protocol])
            attribute(&m, CT.Proto.sourcePort.rawValue, bigEndian: tuple.sourcePort)
            attribute(&m, CT.Proto.destinationPort.rawValue, bigEndian: tuple.destinationPort)
        }
    }

    private static func nested(_ m: inout [UInt8], _ type: UInt16, _ body: (inout [UInt8]) -> Void) {
        let start = m.count
        append(&m, UInt16(0))
        append(&m, type | nestedFlag)
        body(&m)
        put(&m, at: start, UInt16(m.count - start))
    }

    private static func attribute(_ m: inout [UInt8], _ type: UInt16, bigEndian value: UInt16) {
        attribute(&m, type, [UInt8(value >> 8), UInt8(value & 0xff)])
    }

    private static func attribute(_ m: inout [UInt8], _ type: UInt16, _ payload: [UInt8]) {
        append(&m, UInt16(4 + payload.count))
        append(&m, type)
        m += payload
        while m.count % 4 != 0 { m.append(0) }
    }

    // Netlink headers and attribute headers are in the host's byte order; payloads in network order.
    private static func append<T: FixedWidthInteger>(_ m: inout [UInt8], _ value: T) {
        withUnsafeBytes(of: value) { m += $0 }
    }

    private static func put<T: FixedWidthInteger>(_ m: inout [UInt8], at offset: Int, _ value: T) {
        withUnsafeBytes(of: value) { for (i, b) in $0.enumerated() { m[offset + i] = b } }
    }

    static func host16(_ b: ArraySlice<UInt8>, at i: Int) -> UInt16 {
        var v: UInt16 = 0
        withUnsafeMutableBytes(of: &v) { $0[0] = b[i]; $0[1] = b[i + 1] }
        return v
    }

    // MARK: decoding

    /// The entry in one IPCTNL_MSG_CT_NEW message of a dump, or nil for anything else (an entry of a
    /// protocol without ports still decodes, with ports 0).
    static func decodeFlow(_ message: [UInt8]) -> ConntrackFlow? { decodeFlow(message[...]) }

    /// The same, for a message seen in place in a receive buffer (a dump decodes each as it arrives).
    static func decodeFlow(_ message: ArraySlice<UInt8>) -> ConntrackFlow? {
        guard message.count >= headerSize + nfgenmsgSize else { return nil }
        let type = host16(message, at: message.startIndex + 4)
        guard type == messageType(.new) else { return nil }
        var original: ConntrackTuple?
        var reply: ConntrackTuple?
        var zone: UInt16 = 0
        forEachAttribute(message[(message.startIndex + headerSize + nfgenmsgSize)...]) { attrType, payload in
            switch attrType {
            case CT.Attr.tupleOrig.rawValue: original = decodeTuple(payload)
            case CT.Attr.tupleReply.rawValue: reply = decodeTuple(payload)
            case CT.Attr.zone.rawValue where payload.count >= 2: zone = bigEndian16(payload)
            default: break
            }
        }
        guard let original, let reply else { return nil }
        return ConntrackFlow(original: original, reply: reply, zone: zone)
    }

    static func decodeTuple(_ bytes: ArraySlice<UInt8>) -> ConntrackTuple? {
        var source: IPAddress?
        var destination: IPAddress?
        var proto: UInt8?
        var sourcePort: UInt16 = 0
        var destinationPort: UInt16 = 0
        forEachAttribute(bytes) { type, payload in
            switch type {
            case CT.Tuple.ip.rawValue:
                forEachAttribute(payload) { ipType, address in
                    switch ipType {
                    case CT.IP.v4Source.rawValue: source = ipv4(address)
                    case CT.IP.v4Destination.rawValue: destination = ipv4(address)
                    case CT.IP.v6Source.rawValue where address.count == 16: source = IPAddress(ipv6Bytes: Array(address))
                    case CT.IP.v6Destination.rawValue where address.count == 16: destination = IPAddress(ipv6Bytes: Array(address))
                    default: break
                    }
                }
            case CT.Tuple.proto.rawValue:
                forEachAttribute(payload) { protoType, value in
                    switch protoType {
                    case CT.Proto.number.rawValue where value.count >= 1: proto = value[value.startIndex]
                    case CT.Proto.sourcePort.rawValue where value.count >= 2: sourcePort = bigEndian16(value)
                    case CT.Proto.destinationPort.rawValue where value.count >= 2: destinationPort = bigEndian16(value)
                    default: break
                    }
                }
            default: break
            }
        }
        guard let source, let destination, let proto else { return nil }
        return ConntrackTuple(source: source, destination: destination, protocol: proto, sourcePort: sourcePort, destinationPort: destinationPort)
    }

    /// The (type, payload) attributes in `bytes`, stopping at the first malformed one.
    static func attributes(_ bytes: ArraySlice<UInt8>) -> [(UInt16, ArraySlice<UInt8>)] {
        var result: [(UInt16, ArraySlice<UInt8>)] = []
        forEachAttribute(bytes) { result.append(($0, $1)) }
        return result
    }

    /// Each (type, payload) attribute in `bytes`, stopping at the first malformed one; allocates
    /// nothing (a dump decodes every entry of the table through it).
    static func forEachAttribute(_ bytes: ArraySlice<UInt8>, _ body: (UInt16, ArraySlice<UInt8>) -> Void) {
        var i = bytes.startIndex
        while i + 4 <= bytes.endIndex {
            let length = Int(host16(bytes, at: i))
            let type = host16(bytes, at: i + 2) & typeMask
            guard length >= 4, i + length <= bytes.endIndex else { break }
            body(type, bytes[(i + 4)..<(i + length)])
            i += (length + 3) & ~3
        }
    }

    private static func bigEndian16(_ b: ArraySlice<UInt8>) -> UInt16 {
        UInt16(b[b.startIndex]) << 8 | UInt16(b[b.startIndex + 1])
    }

    private static func ipv4(_ b: ArraySlice<UInt8>) -> IPAddress? {
        guard b.count == 4 else { return nil }
        return IPAddress(ipv4: b.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
    }
}
