/// An nftables address family: which packets a table's chains see.
public enum NFTFamily: String, Sendable, Hashable, CaseIterable {
    /// IPv4 only (`NFPROTO_IPV4`).
    case ip
    /// IPv6 only (`NFPROTO_IPV6`).
    case ip6
    /// IPv4 and IPv6 together (`NFPROTO_INET`).
    case inet

    /// The `NFPROTO_*` number the kernel uses for this family.
    var protocolFamily: UInt8 {
        switch self {
        case .ip: 2
        case .ip6: 10
        case .inet: 1
        }
    }
}
