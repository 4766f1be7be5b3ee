import CConntrack
import Conntrack
import Glibc

/// Test-only: fills a namespace's conntrack table through ctnetlink create messages (IPCTNL_MSG_CT_NEW
/// with NLM_F_CREATE | NLM_F_EXCL), built with libmnl, a few hundred per datagram, the last of each
/// asking for an ack. The one unsafe place of the tests' conntrack code: libmnl writes into a raw buffer.
enum ConntrackTableFiller {
    /// One UDP entry, IPv4 addresses as host-order integers.
    struct Entry {
        var client: UInt32, clientPort: UInt16
        var destination: UInt32, destinationPort: UInt16
        /// Who answers (the DNAT target, or `destination` for an entry never NATed).
        var replier: UInt32, replierPort: UInt16
    }

    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    static let perDatagram = 256

    /// Inserts `count` entries made by `entry(i)`, each with a one-hour timeout.
    static func insert(namespace: String, count: Int, entry: (Int) -> Entry) throws {
        guard let nl = try NetworkNamespace.run(namespace, { mnl_socket_open(NETLINK_NETFILTER) }) else {
            throw Failed(description: "mnl_socket_open: errno \(errno)")
        }
        defer { mnl_socket_close(nl) }
        guard mnl_socket_bind(nl, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else { throw Failed(description: "mnl_socket_bind: errno \(errno)") }
        var send = [UInt8](repeating: 0, count: perDatagram * 256)
        var receive = [UInt8](repeating: 0, count: 65_536)
        var sequence: UInt32 = 1
        var i = 0
        while i < count {
            let n = min(perDatagram, count - i)
            let last = sequence + UInt32(n) - 1
            let length = send.withUnsafeMutableBytes { raw -> Int in
                var offset = 0
                for k in 0..<n {
                    let nlh = mnl_nlmsg_put_header(raw.baseAddress! + offset)!
                    nlh.pointee.nlmsg_type = UInt16(NFNL_SUBSYS_CTNETLINK << 8) | UInt16(IPCTNL_MSG_CT_NEW.rawValue)
                    nlh.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL) | (k == n - 1 ? UInt16(NLM_F_ACK) : 0)
                    nlh.pointee.nlmsg_seq = sequence + UInt32(k)
                    let nfg = mnl_nlmsg_put_extra_header(nlh, MemoryLayout<nfgenmsg>.size)!.assumingMemoryBound(to: nfgenmsg.self)
                    nfg.pointee.nfgen_family = UInt8(AF_INET)
                    nfg.pointee.version = UInt8(NFNETLINK_V0)
                    nfg.pointee.res_id = 0
                    let e = entry(i + k)
                    tuple(nlh, UInt16(CTA_TUPLE_ORIG.rawValue), from: e.client, e.clientPort, to: e.destination, e.destinationPort)
                    tuple(nlh, UInt16(CTA_TUPLE_REPLY.rawValue), from: e.replier, e.replierPort, to: e.client, e.clientPort)
                    mnl_attr_put_u32(nlh, UInt16(CTA_TIMEOUT.rawValue), UInt32(3600).bigEndian)
                    offset += Int(nlh.pointee.nlmsg_len)
                }
                return offset
            }
            let sent = send.withUnsafeBytes { mnl_socket_sendto(nl, $0.baseAddress, length) }
            guard sent == length else { throw Failed(description: "mnl_socket_sendto: errno \(errno)") }
            // Errors of earlier messages come before the last one's ack.
            var acked = false
            while !acked {
                let received = receive.withUnsafeMutableBytes { mnl_socket_recvfrom(nl, $0.baseAddress, $0.count) }
                guard received > 0 else { throw Failed(description: "mnl_socket_recvfrom: errno \(errno)") }
                var offset = 0
                while offset + 20 <= received {
                    let (size, type, seq, code) = receive.withUnsafeBytes { b in
                        (Int(b.load(fromByteOffset: offset, as: UInt32.self)), b.load(fromByteOffset: offset + 4, as: UInt16.self),
                         b.load(fromByteOffset: offset + 8, as: UInt32.self), b.load(fromByteOffset: offset + 16, as: Int32.self))
                    }
                    guard size >= 16 else { break }
                    if type == UInt16(NLMSG_ERROR), code != 0 {
                        throw Failed(description: "create entry \(i + Int(seq - sequence)): errno \(-code) \(String(cString: strerror(-code)))")
                    }
                    if seq == last { acked = true }
                    offset += (size + 3) & ~3
                }
            }
            sequence = last + 1
            i += n
        }
    }

    private static func tuple(_ nlh: UnsafeMutablePointer<nlmsghdr>, _ type: UInt16, from source: UInt32, _ sourcePort: UInt16,
                              to destination: UInt32, _ destinationPort: UInt16) {
        let outer = mnl_attr_nest_start(nlh, type)
        let ip = mnl_attr_nest_start(nlh, UInt16(CTA_TUPLE_IP.rawValue))
        mnl_attr_put_u32(nlh, UInt16(CTA_IP_V4_SRC.rawValue), source.bigEndian)
        mnl_attr_put_u32(nlh, UInt16(CTA_IP_V4_DST.rawValue), destination.bigEndian)
        mnl_attr_nest_end(nlh, ip)
        let proto = mnl_attr_nest_start(nlh, UInt16(CTA_TUPLE_PROTO.rawValue))
        mnl_attr_put_u8(nlh, UInt16(CTA_PROTO_NUM.rawValue), UInt8(IPPROTO_UDP))
        mnl_attr_put_u16(nlh, UInt16(CTA_PROTO_SRC_PORT.rawValue), sourcePort.bigEndian)
        mnl_attr_put_u16(nlh, UInt16(CTA_PROTO_DST_PORT.rawValue), destinationPort.bigEndian)
        mnl_attr_nest_end(nlh, proto)
        mnl_attr_nest_end(nlh, outer)
    }
}
