/// The ctnetlink numbers we use, from linux/netfilter/nfnetlink_conntrack.h and nfnetlink.h (kernel
/// ABI, never renumbered), spelled out so that the message code is plain Swift.
enum CT {
    static let subsystem: UInt16 = 1            // NFNL_SUBSYS_CTNETLINK
    static let nfnetlinkV0: UInt8 = 0            // NFNETLINK_V0

    enum Message: UInt16 {                       // enum cntl_msg_types
        case new = 0, get = 1, delete = 2
    }

    enum Attr: UInt16 {                          // enum ctattr_type
        case tupleOrig = 1, tupleReply = 2, zone = 18
    }

    enum Tuple: UInt16 {                         // enum ctattr_tuple
        case ip = 1, proto = 2
    }

    enum IP: UInt16 {                            // enum ctattr_ip
        case v4Source = 1, v4Destination = 2, v6Source = 3, v6Destination = 4
    }

    enum Proto: UInt16 {                         // enum ctattr_l4proto
        case number = 1, sourcePort = 2, destinationPort = 3
    }

    static let request: UInt16 = 0x1             // NLM_F_REQUEST
    static let ack: UInt16 = 0x4                 // NLM_F_ACK
    static let dump: UInt16 = 0x300              // NLM_F_DUMP (ROOT | MATCH)
}
