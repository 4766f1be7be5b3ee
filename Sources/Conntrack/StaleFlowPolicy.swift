import ProxyModel

/// Which conntrack entries are stale, as kube-proxy's reconciler decides (pkg/proxy/conntrack,
/// `CleanStaleEntries`), from the current snapshot alone: no previous snapshot is needed, so it works
/// on the first sync after a restart.
///
/// For each UDP Service port with at least one *serving* endpoint (ready or not, terminating or not;
/// traffic policies and topology play no part, as they decide only new flows), the frontends are its
/// ClusterIP:port, ExternalIP:port and load-balancer IP:port, and `*:NodePort` (any destination
/// address). A UDP entry addressed to a frontend (original destination) whose reply does not come from
/// a serving endpoint IP:port of that Service port is deleted; every other entry is kept. Service
/// ports without serving endpoints are left alone (their clients are rejected by the rules anyway).
/// TCP and SCTP entries are never touched.
public struct StaleFlowPolicy: Sendable {
    public enum Decision: Sendable, Equatable { case keep, delete }

    struct Frontend: Hashable { var address: IPAddress; var port: UInt16 }
    struct Backend: Hashable { var address: IPAddress; var port: UInt16 }

    /// Serving endpoints of each Service address:port, of one family.
    private var byAddress: [Frontend: Set<Backend>] = [:]
    /// Serving endpoints of each NodePort (any destination address).
    private var byNodePort: [UInt16: Set<Backend>] = [:]
    public let family: IPAddress.Family

    /// The frontends and serving endpoints of `snapshot`, of one address family (a dump is per family).
    public init(snapshot: ProxySnapshot, family: IPAddress.Family) {
        self.family = family
        for service in snapshot.servicePorts.values where service.protocol == .udp {
            var serving = Set<Backend>()
            for endpoint in snapshot.endpoints[service.name] ?? [] where endpoint.isServing && endpoint.address.family == family {
                guard let port = UInt16(exactly: endpoint.port) else { continue }
                serving.insert(Backend(address: endpoint.address, port: port))
            }
            // A Service port without serving endpoints: nothing to reconcile.
            guard !serving.isEmpty, let port = UInt16(exactly: service.port) else { continue }
            for address in service.clusterIPs + service.externalIPs + service.loadBalancerIPs where address.family == family {
                byAddress[Frontend(address: address, port: port), default: []].formUnion(serving)
            }
            if service.nodePort != 0, let nodePort = UInt16(exactly: service.nodePort) {
                byNodePort[nodePort, default: []].formUnion(serving)
            }
        }
    }

    /// Nothing to reconcile: no UDP Service port of this family has a serving endpoint.
    public var isEmpty: Bool { byAddress.isEmpty && byNodePort.isEmpty }

    public func decide(_ flow: ConntrackFlow) -> Decision {
        guard flow.original.protocol == ConntrackProtocol.udp.rawValue, flow.family == family else { return .keep }
        let backend = Backend(address: flow.reply.source, port: flow.reply.sourcePort)
        if let serving = byAddress[Frontend(address: flow.original.destination, port: flow.original.destinationPort)],
           !serving.contains(backend) {
            return .delete
        }
        if let serving = byNodePort[flow.original.destinationPort], !serving.contains(backend) {
            return .delete
        }
        return .keep
    }

    /// The decision for one flow against one snapshot (builds the index each call: for tests and
    /// one-offs; a cleanup builds one policy per family and asks it for every entry).
    public static func decide(_ flow: ConntrackFlow, snapshot: ProxySnapshot) -> Decision {
        StaleFlowPolicy(snapshot: snapshot, family: flow.family).decide(flow)
    }
}
