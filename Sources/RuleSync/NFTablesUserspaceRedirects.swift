import NFTables
import ProxyModel
import Synchronization

/// One redirect of the userspace mode: new connections to `address:port` (a ClusterIP or an
/// ExternalIP of a Service port) are sent to the local proxy listener on `listenerPort`.
public struct UserspaceRedirect: Sendable, Hashable, Comparable {
    public var address: IPAddress
    public var `protocol`: TransportProtocol
    public var port: Int
    public var listenerPort: Int
    /// The Service port, shown on the map element.
    public var service: ServicePortName?

    public init(address: IPAddress, protocol: TransportProtocol, port: Int, listenerPort: Int, service: ServicePortName? = nil) {
        self.address = address
        self.protocol = `protocol`
        self.port = port
        self.listenerPort = listenerPort
        self.service = service
    }

    public static func < (a: UserspaceRedirect, b: UserspaceRedirect) -> Bool {
        (a.address, a.protocol, a.port) < (b.address, b.protocol, b.port)
    }

    /// The redirects for every TCP/UDP Service port that has a listener in `listenerPorts`: its
    /// ClusterIPs and ExternalIPs, each to that listener.
    public static func redirects(for snapshot: ProxySnapshot, listenerPorts: [ServicePortName: Int]) -> [UserspaceRedirect] {
        redirects(for: snapshot, clusterIPListeners: listenerPorts, externalIPListeners: listenerPorts)
    }

    /// The redirects of TCP/UDP Service ports to listeners of their own for each kind of address:
    /// the ClusterIPs of a Service port in `clusterIPListeners` to its port there, its ExternalIPs
    /// to its port in `externalIPListeners` (so that each can have the endpoints of its traffic policy).
    /// An address, protocol and port claimed twice (two Services with one ExternalIP and port) is
    /// redirected once, as a ClusterIP first, else for the first Service port by name: a map
    /// cannot hold a key twice, and a duplicate would fail the whole transaction.
    public static func redirects(for snapshot: ProxySnapshot, clusterIPListeners: [ServicePortName: Int],
                                 externalIPListeners: [ServicePortName: Int]) -> [UserspaceRedirect] {
        var claims: [(redirect: UserspaceRedirect, rank: Int)] = []
        for (rank, (listeners, addresses)) in [(clusterIPListeners, \ServicePort.clusterIPs), (externalIPListeners, \ServicePort.externalIPs)].enumerated() {
            for (name, listener) in listeners {
                guard name.protocol != .sctp, let service = snapshot.servicePorts[name] else { continue }
                for address in service[keyPath: addresses] {
                    let redirect = UserspaceRedirect(address: address, protocol: name.protocol, port: service.port, listenerPort: listener, service: name)
                    claims.append((redirect, rank))
                }
            }
        }
        claims.sort { a, b in
            let x = a.redirect, y = b.redirect
            if x < y || y < x { return x < y }
            return (a.rank, x.service?.description ?? "") < (b.rank, y.service?.description ?? "")
        }
        var out: [UserspaceRedirect] = []
        // Sorted by key, the winner of each key first: keep a claim only when its key is new.
        for claim in claims where out.last.map({ $0 < claim.redirect }) ?? true {
            out.append(claim.redirect)
        }
        return out
    }
}

/// The nftables rules of the userspace mode, as the historic kube-proxy userspace mode had them in
/// iptables: in a table of their own (`swift-kube-proxy-userspace`, per family), nat chains at
/// the dstnat priority (prerouting for traffic from pods and other hosts, output for the node's
/// own) send ClusterIP and ExternalIP traffic to the local listener:
///
/// ```
/// table ip swift-kube-proxy-userspace {
///     map redirects { type ipv4_addr . inet_proto . inet_service : inet_service; }
///     chain nat-prerouting { type nat hook prerouting priority dstnat; policy accept;
///         meta l4proto tcp redirect to :ip daddr . meta l4proto . tcp dport map @redirects
///         meta l4proto udp redirect to :ip daddr . meta l4proto . udp dport map @redirects }
///     chain nat-output { ... the same ... }
/// }
/// ```
///
/// A redirect from prerouting arrives on the primary address of the incoming interface, one from
/// output on 127.0.0.1 (::1): listeners should accept on every address.
///
/// Those wildcard listeners (portals) would also take a connection that was never redirected, from
/// another host straight to `NODE_IP:61000`, and so expose ClusterIP-only Services off the node.
/// A filter chain at the input hook drops such packets: to a portal port, not from loopback (the
/// node's own traffic, redirected or not, arrives there), and not redirected (`ct status dnat`
/// is set by the redirect in prerouting, which runs before input):
///
/// ```
///     set portals { type inet_proto . inet_service; }
///     chain filter-input { type filter hook input priority filter; policy accept;
///         meta l4proto . th dport @portals iifname != "lo" ct status & dnat == 0 drop }
/// ```
public enum NFTablesUserspaceRedirects {
    public static let tableName = "swift-kube-proxy-userspace"
    public static let mapName = "redirects"
    public static let portalSetName = "portals"
    public static let chainNames = ["nat-prerouting", "nat-output", "filter-input"]

    public static func table(_ family: IPAddress.Family) -> NFTTable { NFTTable(family: family.nftFamily, name: tableName) }

    /// One transaction that makes the family's table hold exactly `redirects` (those of other
    /// families are left out): table, map and chains added if missing, rules and elements replaced.
    public static func batch(_ redirects: [UserspaceRedirect], family: IPAddress.Family) -> NFTBatch {
        let table = table(family)
        let address: NFTDataType = family == .ipv4 ? .ipv4Addr : .ipv6Addr
        let daddr: NFTField = family == .ipv4 ? .ipDaddr : .ip6Daddr
        let map = NFTSet.map(mapName, in: table, key: .concat(address, .inetProto, .inetService), to: .data(.inetService),
                             comment: "Service address . protocol . port : local listener port")
        let portals = NFTSet.set(portalSetName, in: table, key: .concat(.inetProto, .inetService),
                                 comment: "protocol . port of every portal (local listener of redirects)")
        var batch = NFTBatch()
        batch.add(table)
        batch.add(map)
        batch.add(portals)
        let chains = [
            NFTChain.base("nat-prerouting", in: table, type: .nat, hook: .prerouting, priority: NFTPriority.dstnat),
            NFTChain.base("nat-output", in: table, type: .nat, hook: .output, priority: NFTPriority.dstnat),
        ]
        let filterInput = NFTChain.base("filter-input", in: table, type: .filter, hook: .input, priority: NFTPriority.filter)
        for chain in chains + [filterInput] { batch.add(chain) }
        batch.flush(table)
        for chain in chains {
            for proto in [NFTProtocol.tcp, .udp] {
                batch.add(NFTRule(in: chain, [.match(.l4proto, .proto(proto)), .redirect(toPortFrom: [daddr, .l4proto, .thDport], map: mapName)]))
            }
        }
        batch.add(NFTRule(in: filterInput, [.lookup([.l4proto, .thDport], set: portalSetName), .match(.iifname, .neq, .ifname("lo")),
                                            .ctStatusDNAT(isSet: false), .drop], comment: "portals take only redirected traffic"))
        batch.flush(map)
        batch.flush(portals)
        let ours = redirects.filter { $0.address.family == family }
        let elements = ours.map { r in
            NFTSetElement(key: .concat(NFTValue(bytes: r.address.bytes), .proto(NFTablesRenderer.proto(r.protocol)), .port(UInt16(r.port))),
                          value: .data(.port(UInt16(r.listenerPort))), comment: r.service.map { RuleComment.nftables($0.description) })
        }
        if !elements.isEmpty { batch.add(elements, to: map) }
        // Several redirects share a portal (a Service port's ClusterIPs and ExternalIPs): each once.
        let portalPorts = Set(ours.map { PortalPort(proto: NFTablesRenderer.proto($0.protocol), port: UInt16($0.listenerPort)) })
        if !portalPorts.isEmpty {
            batch.add(portalPorts.sorted().map { NFTSetElement(key: .concat(.proto($0.proto), .port($0.port))) }, to: portals)
        }
        return batch
    }
}

/// A portal's protocol number and port, ordered so batches come out the same every time.
private struct PortalPort: Hashable, Comparable {
    var proto: NFTProtocol
    var port: UInt16
    static func < (a: PortalPort, b: PortalPort) -> Bool { (a.proto.rawValue, a.port) < (b.proto.rawValue, b.port) }
}

/// Installs the userspace mode's redirects; the daemon calls `apply` after each userspace sync
/// when it has CAP_NET_ADMIN, and `cleanup` for `--cleanup`.
public final class NFTablesUserspaceRedirector: Sendable {
    public let families: [IPAddress.Family]
    private let transport: any NFTablesTransport
    private let lock = Mutex(())

    public init(families: [IPAddress.Family] = [.ipv4, .ipv6], transport: any NFTablesTransport) {
        self.families = families
        self.transport = transport
    }

    /// With its own netlink connection, here or in the network namespace at `networkNamespace`.
    public convenience init(families: [IPAddress.Family] = [.ipv4, .ipv6], networkNamespace: String? = nil) throws(NFTError) {
        let connection: NFTConnection
        if let networkNamespace { connection = try NFTConnection(networkNamespace: networkNamespace) } else { connection = try NFTConnection() }
        self.init(families: families, transport: connection)
    }

    /// Makes the redirects exactly `redirects`, one atomic batch per family; returns bytes sent.
    @discardableResult
    public func apply(_ redirects: [UserspaceRedirect]) throws -> Int {
        try lock.withLock { _ in
            var bytes = 0
            for family in families { bytes += try transport.apply(NFTablesUserspaceRedirects.batch(redirects, family: family)) }
            return bytes
        }
    }

    /// Deletes the redirect tables and nothing else.
    public func cleanup() throws {
        try lock.withLock { _ in
            for family in families { _ = try transport.deleteTableIfPresent(NFTablesUserspaceRedirects.table(family)) }
        }
    }
}
