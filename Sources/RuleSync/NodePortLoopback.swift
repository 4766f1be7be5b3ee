import ProxyModel

/// Loopback and NodePorts. A DNAT from 127.0.0.0/8 or ::1 sends packets out with a loopback source,
/// which the kernel drops unless IPv4 `route_localnet` is set (IPv6 has no such switch): a localhost
/// NodePort connection would hang instead of failing. So the shared plan never holds loopback, as
/// upstream's nftables mode, and only the iptables renderer adds IPv4 loopback back, with
/// `localhostNodePorts` (upstream's default in iptables mode).
public enum NodePortLoopback {
    public static let ipv4 = CIDR("127.0.0.0/8")!
    public static let ipv6 = CIDR("::1/128")!

    public static func range(_ family: IPAddress.Family) -> CIDR { family == .ipv4 ? ipv4 : ipv6 }

    /// Upstream's `NodePortAddresses.ContainsIPv4Loopback`: the IPv4 `nodePortAddresses` (all of them
    /// when none is IPv4) reach 127.0.0.1.
    public static func configIncludesIPv4Loopback(_ nodePortAddresses: [CIDR]) -> Bool {
        let v4 = nodePortAddresses.filter { $0.family == .ipv4 }
        let first = IPAddress(ipv4: 0x7F00_0001)
        return v4.isEmpty || v4.contains { $0.contains(first) || ipv4.contains($0.address) }
    }

    /// `cidr` without the loopback range of its family: itself when they do not meet, nothing when it
    /// lies inside loopback, otherwise the prefixes that cover the rest (one per bit between the two
    /// prefix lengths: `0.0.0.0/1` gives 0.0.0.0/2, 64.0.0.0/3, …, 126.0.0.0/8).
    public static func excluding(_ cidr: CIDR) -> [CIDR] {
        let loopback = range(cidr.family)
        if loopback.contains(cidr.address) && cidr.prefixLength >= loopback.prefixLength { return [] }
        guard cidr.contains(loopback.address) else { return [cidr] }
        return ((cidr.prefixLength + 1)...loopback.prefixLength).map { length in
            CIDR(address: flippingBit(length, of: loopback.address), prefixLength: length)
        }
    }

    /// `address` with its `bit`-th bit (1 = the most significant) inverted: the sibling prefix.
    static func flippingBit(_ bit: Int, of address: IPAddress) -> IPAddress {
        switch address.family {
        case .ipv4:
            return IPAddress(ipv4: address.ipv4Value ^ (UInt32(1) << UInt32(32 - bit)))
        case .ipv6:
            if bit <= 64 { return IPAddress(ipv6High: address.high ^ (UInt64(1) << UInt64(64 - bit)), low: address.low) }
            return IPAddress(ipv6High: address.high, low: address.low ^ (UInt64(1) << UInt64(128 - bit)))
        }
    }
}
