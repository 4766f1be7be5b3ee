import Glibc
import ProxyModel

/// The node's own interface addresses, read with getifaddrs(3).
enum LocalAddresses {
    /// Every address on an interface that is up, link-local IPv6 excluded (it cannot be bound
    /// without a scope, and kube-proxy does not serve NodePorts there either).
    static func current() -> [IPAddress] {
        // The one place this module walks C structures: getifaddrs hands back a linked list of
        // sockaddrs that only live until freeifaddrs.
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var result: [IPAddress] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard entry.pointee.ifa_flags & UInt32(IFF_UP) != 0, let sa = entry.pointee.ifa_addr else { continue }
            switch Int32(sa.pointee.sa_family) {
            case AF_INET:
                let raw = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                result.append(IPAddress(ipv4: UInt32(bigEndian: raw)))
            case AF_INET6:
                let bytes = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                    withUnsafeBytes(of: p.pointee.sin6_addr) { Array($0) }
                }
                let ip = IPAddress(ipv6Bytes: bytes)
                if ip.family == .ipv6 && ip.high >> 54 == 0x3FA { continue }   // fe80::/10
                result.append(ip)
            default:
                continue
            }
        }
        return Array(Set(result)).sorted()
    }
}

/// kube-proxy's `nodePortAddresses`: which node addresses serve NodePorts.
enum NodePortAddresses {
    /// The node addresses inside any of `cidrs` (a plain address is a /32 or /128). Per family, as
    /// upstream: with no prefix of an address's family, every address of that family serves.
    /// Loopback stays: the userspace proxy listens there itself, no DNAT and no route_localnet.
    static func select(_ cidrs: [CIDR], from nodeAddresses: [IPAddress]) -> [IPAddress] {
        let families = Set(cidrs.map(\.family))
        return nodeAddresses.filter { ip in !families.contains(ip.family) || cidrs.contains { $0.contains(ip) } }
    }
}
