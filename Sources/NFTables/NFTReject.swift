/// How `reject` answers.
public enum NFTReject: Sendable, Hashable {
    case tcpReset
    case icmp(ICMPCode)
    case icmpv6(ICMPCode)
    /// Family-independent codes, `inet` tables only.
    case icmpx(ICMPCode)

    /// Codes as the kernel numbers them for the matching `reject` type. For ICMPv4 these are
    /// `ICMP_*_UNREACH`, for ICMPv6 `ICMPV6_*`, for icmpx `NFT_REJECT_ICMPX_*`; the cases
    /// here are the ones kube-proxy needs, with the right number for each type family.
    public struct ICMPCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: UInt8
        public let name: String
        public init(rawValue: UInt8) { self.rawValue = rawValue; self.name = "code \(rawValue)" }
        init(_ rawValue: UInt8, _ name: String) { self.rawValue = rawValue; self.name = name }
        public var description: String { "type \(name)" }

        /// ICMPv4 port-unreachable (3), the default of `reject` in an `ip` table.
        public static let portUnreachable = ICMPCode(3, "port-unreachable")
        /// ICMPv4 host-unreachable (1).
        public static let hostUnreachable = ICMPCode(1, "host-unreachable")
        /// ICMPv4 admin-prohibited (13).
        public static let adminProhibited = ICMPCode(13, "admin-prohibited")
        /// ICMPv6 port-unreachable (4).
        public static let v6PortUnreachable = ICMPCode(4, "port-unreachable")
        /// ICMPv6 admin-prohibited (1).
        public static let v6AdminProhibited = ICMPCode(1, "admin-prohibited")
        /// icmpx port-unreachable (1).
        public static let xPortUnreachable = ICMPCode(1, "port-unreachable")
        /// icmpx admin-prohibited (3).
        public static let xAdminProhibited = ICMPCode(3, "admin-prohibited")
    }
}
