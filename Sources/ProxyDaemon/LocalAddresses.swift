import Glibc
import ProxyModel

/// The node's own interface addresses, read with getifaddrs(3).
enum LocalAddresses {
    /// One address of an interface, in the kernel's order (an interface's primary IPv4 address first).
    struct Assigned: Hashable, Sendable {
        var interface: String
        var address: IPAddress
    }

    /// Every address on an interface that is up, link-local IPv6 excluded (it cannot be bound
    /// without a scope, and kube-proxy does not serve NodePorts there either).
    static func current() -> [IPAddress] {
        Array(Set(assigned().map(\.address))).sorted()
    }

    /// The same addresses with their interfaces, in the order getifaddrs lists them.
    static func assigned() -> [Assigned] {
        // The one place this module walks C structures: getifaddrs hands back a linked list of
        // sockaddrs that only live until freeifaddrs.
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var result: [Assigned] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard entry.pointee.ifa_flags & UInt32(IFF_UP) != 0, let sa = entry.pointee.ifa_addr else { continue }
            let interface = entry.pointee.ifa_name.map { String(cString: $0) } ?? ""
            switch Int32(sa.pointee.sa_family) {
            case AF_INET:
                let raw = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                result.append(Assigned(interface: interface, address: IPAddress(ipv4: UInt32(bigEndian: raw))))
            case AF_INET6:
                let bytes = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                    withUnsafeBytes(of: p.pointee.sin6_addr) { Array($0) }
                }
                let ip = IPAddress(ipv6Bytes: bytes)
                if ip.family == .ipv6 && ip.high >> 54 == 0x3FA { continue }   // fe80::/10
                result.append(Assigned(interface: interface, address: ip))
            default:
                continue
            }
        }
        return result
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
