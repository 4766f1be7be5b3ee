/// What changed between two snapshots, per Service port: the unit an incremental sync rewrites.
public struct SnapshotDiff: Sendable, Equatable {
    public var added: Set<ServicePortName> = []
    public var removed: Set<ServicePortName> = []
    /// The Service port's own fields changed (ClusterIP, NodePort, affinity, policies, …).
    public var updated: Set<ServicePortName> = []
    /// Only the endpoint list changed.
    public var endpointsChanged: Set<ServicePortName> = []
    /// Node name, addresses or labels changed: locality and topology may differ for every Service.
    public var nodeChanged = false

    public init() {}

    /// Compares every Service port of the two snapshots.
    public init(from old: ProxySnapshot, to new: ProxySnapshot) {
        self.init(from: old, to: new, candidates: nil)
    }

    /// Compares only the given Service ports (nil: all), for syncs that know what they touched and
    /// must not pay for the rest.
    public init(from old: ProxySnapshot, to new: ProxySnapshot, candidates: Set<ServicePortName>?) {
        nodeChanged = old.node != new.node
        let candidates = candidates ?? Set(old.servicePorts.keys).union(new.servicePorts.keys)
        for name in candidates {
            switch (old.servicePorts[name], new.servicePorts[name]) {
            case (nil, .some): added.insert(name)
            case (.some, nil): removed.insert(name)
            case let (.some(a), .some(b)):
                if a != b {
                    updated.insert(name)
                } else if old.endpoints[name] ?? [] != new.endpoints[name] ?? [] {
                    endpointsChanged.insert(name)
                }
            case (nil, nil): break
            }
        }
    }

    /// Every Service port whose rules may need rewriting.
    public var changed: Set<ServicePortName> { added.union(removed).union(updated).union(endpointsChanged) }

    public var isEmpty: Bool { !nodeChanged && added.isEmpty && removed.isEmpty && updated.isEmpty && endpointsChanged.isEmpty }
}

/// A conntrack flow that would keep sending datagrams to a backend that is gone (UDP and SCTP have
/// no connection end to clear it, so kube-proxy deletes such entries).
public struct StaleFlow: Hashable, Sendable {
    public enum Target: Hashable, Sendable {
        /// Flows whose original destination is this Service address and port (a deleted Service port).
        case serviceAddress(IPAddress, port: Int)
        /// Flows that were NATed to this endpoint of the Service port (an endpoint that went away).
        case endpoint(ServicePortName, Endpoint)
    }

    public var `protocol`: TransportProtocol
    public var target: Target

    public init(protocol: TransportProtocol, target: Target) {
        self.protocol = `protocol`
        self.target = target
    }
}

extension SnapshotDiff {
    /// Datagram flows made stale by going from `old` to `new` (kube-proxy's conntrack reconciler):
    /// endpoints no longer reachable for a UDP/SCTP Service port, and every frontend address of
    /// UDP/SCTP Service ports that are deleted or went from no endpoints to some (so clients stuck
    /// on a reject entry retry).
    public func staleFlows(from old: ProxySnapshot, to new: ProxySnapshot) -> [StaleFlow] {
        var flows: [StaleFlow] = []
        for name in changed.sorted() where name.protocol != .tcp {
            let before = old.endpointSelection(for: name)
            let after = new.endpointSelection(for: name)
            let reachableAfter = Set((after?.allReachableEndpoints ?? []).map(EndpointKey.init))
            for ep in before?.allReachableEndpoints ?? [] where !reachableAfter.contains(EndpointKey(ep)) {
                flows.append(StaleFlow(protocol: name.protocol, target: .endpoint(name, ep)))
            }
            let gone = after == nil
            let cameUp = (before.map { !$0.hasAnyEndpoints } ?? true) && (after?.hasAnyEndpoints ?? false)
            if gone || cameUp, let service = old.servicePorts[name] ?? new.servicePorts[name] {
                for address in service.clusterIPs + service.externalIPs + service.loadBalancerIPs {
                    flows.append(StaleFlow(protocol: name.protocol, target: .serviceAddress(address, port: service.port)))
                }
            }
        }
        return flows
    }
}
