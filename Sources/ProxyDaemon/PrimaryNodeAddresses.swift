import Foundation
import ProxyModel

/// The node's primary address of each family when no Node object names it (`source: file`, and the
/// Kubernetes source until the Node arrives): the address an operator of a laptop or VM thinks of as
/// "the machine's address", the first address of the interface that holds the default route.
/// Interface addresses alone are no answer: they come sorted, not by role, and a docker0 or a VPN
/// link would win as often as the uplink.
enum PrimaryNodeAddresses {
    /// A default route as the kernel lists it in /proc/net/route or /proc/net/ipv6_route.
    struct DefaultRoute: Hashable, Sendable {
        var family: IPAddress.Family
        var interface: String
        var metric: UInt32
    }

    /// Per family: the default route with the lowest metric, then the first address of that family
    /// on its interface that is not loopback. A family without a default route, or whose route's
    /// interface has no such address, has no primary address.
    static func choose(routes: [DefaultRoute], addresses: [LocalAddresses.Assigned]) -> [IPAddress] {
        [IPAddress.Family.ipv4, .ipv6].compactMap { family in
            let candidates = routes.filter { $0.family == family }
            // Ties keep the kernel's order, which is the order it tries them.
            guard let route = candidates.min(by: { $0.metric < $1.metric }) else { return nil }
            return addresses.first { $0.interface == route.interface && $0.address.family == family && !$0.address.isLoopback }?.address
        }
    }

    /// `/proc/net/route`: default routes (destination and mask 0) that are up (RTF_UP).
    static func parseIPv4Routes(_ text: String) -> [DefaultRoute] {
        text.split(separator: "\n").dropFirst().compactMap { line in
            let f = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard f.count >= 8, f[1] == "00000000", f[7] == "00000000",
                  let flags = UInt32(f[3], radix: 16), flags & rtfUp != 0, flags & rtfReject == 0,
                  let metric = UInt32(f[6]) else { return nil }
            return DefaultRoute(family: .ipv4, interface: String(f[0]), metric: metric)
        }
    }

    /// `/proc/net/ipv6_route`: default routes (::/0) that are up and not unreachable (the kernel
    /// lists a rejecting ::/0 on lo when there is no default route).
    static func parseIPv6Routes(_ text: String) -> [DefaultRoute] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 10, f[0] == String(repeating: "0", count: 32), f[1] == "00",
                  let metric = UInt32(f[5], radix: 16), let flags = UInt32(f[8], radix: 16),
                  flags & rtfUp != 0, flags & rtfReject == 0, f[9] != "lo" else { return nil }
            return DefaultRoute(family: .ipv6, interface: String(f[9]), metric: metric)
        }
    }

    static let rtfUp: UInt32 = 0x0001
    static let rtfReject: UInt32 = 0x0200

    /// Reads this network namespace's routes and addresses, then `choose`.
    static func detect() -> [IPAddress] {
        func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        let routes = parseIPv4Routes(read("/proc/net/route")) + parseIPv6Routes(read("/proc/net/ipv6_route"))
        return choose(routes: routes, addresses: LocalAddresses.assigned())
    }
}

extension ProxyConfig {
    /// `nodePortAddresses` with `primary` resolved against `node`, for the parts that take it once at
    /// start (the userspace listeners, health check node ports), as kube-proxy resolves it at start.
    /// The rule backends resolve it on every sync instead, so they follow the Node.
    func nodePortAddresses(resolvedFor node: NodeInfo) -> [CIDR] {
        guard servesNodePortsOnPrimary else { return nodePortAddresses }
        let rules = ruleSyncConfig
        return [IPAddress.Family.ipv4, .ipv6].flatMap { rules.nodePortAddresses(of: $0, node: node) }
    }

    /// Where NodePorts are served, per family, for the start-up log.
    func nodePortAddressesDescription(node: NodeInfo, families: [IPAddress.Family]) -> String {
        let rules = ruleSyncConfig
        let how = servesNodePortsOnPrimary ? "primary" + (nodePortAddressesPrimary == nil ? " (nftables mode's default)" : "") : "nodePortAddresses"
        let parts = families.map { family in
            let cidrs = rules.nodePortAddresses(of: family, node: node)
            let name = family == .ipv4 ? "IPv4" : "IPv6"
            if cidrs.isEmpty || cidrs.contains(where: { $0.prefixLength == 0 }) { return "\(name): every local address" }
            return "\(name): " + cidrs.map(\.description).joined(separator: ", ")
        }
        return "\(how): " + parts.joined(separator: "; ")
    }
}
