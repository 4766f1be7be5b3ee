/// Which endpoints serve which traffic of one Service port: kube-proxy's `CategorizeEndpoints`, as a
/// pure function so every dataplane makes the same decision.
public struct EndpointSelection: Hashable, Sendable {
    /// For traffic with policy Cluster: ready endpoints (narrowed by topology hints when usable), or
    /// serving-terminating ones when none is ready.
    public var clusterEndpoints: [Endpoint]
    /// For traffic with policy Local: ready local endpoints, or serving-terminating local ones when
    /// none is ready.
    public var localEndpoints: [Endpoint]
    /// Every endpoint some traffic may reach (for conntrack cleanup and per-endpoint state).
    public var allReachableEndpoints: [Endpoint]
    /// Some usable endpoint exists anywhere in the cluster. When false, traffic is rejected; when true
    /// but a Local-policy list is empty, that traffic is dropped (kube-proxy's distinction).
    public var hasAnyEndpoints: Bool

    public init(clusterEndpoints: [Endpoint], localEndpoints: [Endpoint], allReachableEndpoints: [Endpoint], hasAnyEndpoints: Bool) {
        self.clusterEndpoints = clusterEndpoints
        self.localEndpoints = localEndpoints
        self.allReachableEndpoints = allReachableEndpoints
        self.hasAnyEndpoints = hasAnyEndpoints
    }

    /// The endpoints for traffic from outside the cluster (NodePort, ExternalIP, LB IP).
    public func externalEndpoints(for service: ServicePort) -> [Endpoint] {
        service.externalPolicyIsLocal ? localEndpoints : clusterEndpoints
    }

    /// The endpoints for traffic to the ClusterIP.
    public func internalEndpoints(for service: ServicePort) -> [Endpoint] {
        service.internalPolicyIsLocal ? localEndpoints : clusterEndpoints
    }
}

extension EndpointSelection {
    /// Categorizes `endpoints` (in the order given, which is kept) for `service` on `node`.
    public init(service: ServicePort, endpoints: [Endpoint], node: NodeInfo) {
        var cluster: [Endpoint] = []
        var local: [Endpoint] = []
        var hasAny = false
        var topology = TopologyMode.none

        if service.usesClusterEndpoints {
            topology = TopologyMode(endpoints: endpoints, node: node)
            cluster = endpoints.sharingFilter { $0.isReady && topology.admits($0, node: node) }
            if cluster.isEmpty {
                cluster = endpoints.filter { $0.isServing && $0.isTerminating }
            }
            hasAny = !cluster.isEmpty
        }

        guard service.usesLocalEndpoints else {
            self.init(clusterEndpoints: cluster, localEndpoints: [], allReachableEndpoints: cluster, hasAnyEndpoints: hasAny)
            return
        }

        var hasLocalReady = false
        var hasLocalServingTerminating = false
        for ep in endpoints {
            if ep.isReady {
                hasAny = true
                if ep.isLocal { hasLocalReady = true }
            } else if ep.isServing && ep.isTerminating {
                hasAny = true
                if ep.isLocal { hasLocalServingTerminating = true }
            }
        }
        var usesServingTerminating = false
        if hasLocalReady {
            local = endpoints.sharingFilter { $0.isLocal && $0.isReady }
        } else if hasLocalServingTerminating {
            usesServingTerminating = true
            local = endpoints.filter { $0.isLocal && $0.isServing && $0.isTerminating }
        }

        guard service.usesClusterEndpoints else {
            self.init(clusterEndpoints: cluster, localEndpoints: local, allReachableEndpoints: local, hasAnyEndpoints: hasAny)
            return
        }
        if topology == .none && !usesServingTerminating {
            // cluster holds every ready endpoint, and local only ready ones: cluster is the superset.
            self.init(clusterEndpoints: cluster, localEndpoints: local, allReachableEndpoints: cluster, hasAnyEndpoints: hasAny)
            return
        }
        var seen = Set(cluster.map { EndpointKey($0) })
        var all = cluster
        for ep in local where seen.insert(EndpointKey(ep)).inserted { all.append(ep) }
        self.init(clusterEndpoints: cluster, localEndpoints: local, allReachableEndpoints: all, hasAnyEndpoints: hasAny)
    }
}

/// How topology hints narrow the cluster endpoints: decided from the hints themselves, never partly,
/// so traffic does not pile onto a few endpoints when hints are incomplete.
enum TopologyMode: Hashable {
    case none, preferSameZone, preferSameNode

    /// Same-node when every ready endpoint has node hints and one names us; else same-zone when every
    /// ready endpoint has zone hints and one names our zone; else none.
    init(endpoints: [Endpoint], node: NodeInfo) {
        // One pass over the ready endpoints, fields read in place: no array of them (a full sync
        // asks for every Service port).
        var anyReady = false, allNodeHints = true, namesNode = false, allZoneHints = true, namesZone = false
        for i in endpoints.indices where endpoints[i].isReady {
            anyReady = true
            if endpoints[i].nodeHints.isEmpty { allNodeHints = false } else if endpoints[i].nodeHints.contains(node.name) { namesNode = true }
            if endpoints[i].zoneHints.isEmpty {
                allZoneHints = false
            } else if let zone = node.zone, endpoints[i].zoneHints.contains(zone) {
                namesZone = true
            }
        }
        if anyReady && allNodeHints && namesNode {
            self = .preferSameNode
        } else if anyReady && allZoneHints && namesZone {
            self = .preferSameZone
        } else {
            self = .none
        }
    }

    func admits(_ ep: Endpoint, node: NodeInfo) -> Bool {
        switch self {
        case .none: return true
        case .preferSameNode: return ep.nodeHints.contains(node.name)
        case .preferSameZone: return node.zone.map { ep.zoneHints.contains($0) } ?? false
        }
    }
}

extension Array where Element == Endpoint {
    /// `filter`, but the array itself (its buffer shared, not copied) when every endpoint is kept,
    /// as they mostly are: a copy is an allocation and a retain of each endpoint's strings.
    public func sharingFilter(_ keep: (Endpoint) -> Bool) -> [Endpoint] {
        allSatisfy(keep) ? self : filter(keep)
    }
}

/// Endpoints are the same backend when address and port agree, whatever their conditions.
public struct EndpointKey: Hashable, Sendable {
    public let address: IPAddress
    public let port: Int
    public init(_ ep: Endpoint) {
        address = ep.address
        port = ep.port
    }
}
