import ProxyModel

/// Which addresses of a Service port a portal serves. ClusterIP traffic goes to the endpoints of
/// the internal traffic policy, ExternalIP traffic to those of the external one (as kube-proxy's
/// rules do), and a listener cannot tell them apart once redirected: each has a portal of its own.
enum PortalFrontend: String, Hashable, Sendable, Comparable {
    case clusterIP, externalIP

    static func < (a: PortalFrontend, b: PortalFrontend) -> Bool { a.rawValue < b.rawValue }
}

/// One portal: the local listener that redirected traffic of one frontend of a Service port lands on.
struct PortalKey: Hashable, Sendable, Comparable {
    var servicePort: ServicePortName
    var frontend: PortalFrontend

    static func < (a: PortalKey, b: PortalKey) -> Bool { (a.servicePort, a.frontend) < (b.servicePort, b.frontend) }
}

/// The listener port of every portal, taken from `range` (TCP and UDP each have all of it). A
/// portal keeps its port for as long as it exists, since the redirects point at it. A new portal
/// takes the first free port after the last one handed out, so a port just given up is reused as
/// late as possible: conntrack entries of the old Service's redirects may still lead to it.
struct PortalPorts: Sendable, Equatable {
    let range: ClosedRange<Int>
    private(set) var ports: [PortalKey: Int] = [:]
    /// Where the search for the next free port starts, per protocol.
    private var cursor: [TransportProtocol: Int] = [:]
    /// Ports another program held when we tried them.
    private var taken: [TransportProtocol: Set<Int>] = [:]

    init(range: ClosedRange<Int>) {
        self.range = range
    }

    /// Keeps the ports of the `wanted` portals that have one, gives up those of portals no longer
    /// wanted, and hands ports to the new ones, in order. `reserved` ports (the NodePorts, which have
    /// listeners of their own) are never handed out, and a portal on one moves. Portals the range
    /// has no room for stay without a port.
    mutating func update(wanted: some Sequence<PortalKey>, reserved: [TransportProtocol: Set<Int>] = [:]) {
        let wanted = Set(wanted)
        ports = ports.filter { key, port in wanted.contains(key) && !(reserved[key.servicePort.protocol]?.contains(port) ?? false) }
        var used: [TransportProtocol: Set<Int>] = [:]
        for (key, port) in ports { used[key.servicePort.protocol, default: []].insert(port) }
        for key in wanted.sorted() where ports[key] == nil {
            let proto = key.servicePort.protocol
            let avoid = used[proto, default: []].union(reserved[proto] ?? [])
            guard let port = nextFree(proto, avoiding: avoid) else { continue }
            ports[key] = port
            used[proto, default: []].insert(port)
        }
    }

    /// `key`'s port could not be bound (another program holds it): the port is skipped from now on
    /// and the portal gets another one at the next `update`.
    mutating func portIsTaken(for key: PortalKey) {
        guard let port = ports.removeValue(forKey: key) else { return }
        taken[key.servicePort.protocol, default: []].insert(port)
    }

    private mutating func nextFree(_ proto: TransportProtocol, avoiding used: Set<Int>) -> Int? {
        let count = range.count
        let start = cursor[proto] ?? range.lowerBound
        for attempt in 0..<2 {
            for offset in 0..<count {
                let port = range.lowerBound + (start - range.lowerBound + offset) % count
                guard !used.contains(port), !(taken[proto]?.contains(port) ?? false) else { continue }
                cursor[proto] = port == range.upperBound ? range.lowerBound : port + 1
                return port
            }
            // Full: ports once held by others may be free by now, so try them before giving up.
            guard attempt == 0, taken[proto]?.isEmpty == false else { break }
            taken[proto] = []
        }
        return nil
    }
}
