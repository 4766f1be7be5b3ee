/// `sessionAffinity` of a Service.
public enum SessionAffinity: Hashable, Sendable {
    case none
    /// Connections from one client IP go to one endpoint until it has been idle this long.
    case clientIP(timeoutSeconds: Int)

    /// Kubernetes' default `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours).
    public static let defaultTimeoutSeconds = 10_800
}

/// `externalTrafficPolicy` / `internalTrafficPolicy`.
public enum TrafficPolicy: String, Hashable, Sendable {
    case cluster = "Cluster", local = "Local"
}

/// What a Service's `targetPort` says; the number actually used comes from the endpoints.
public enum TargetPort: Hashable, Sendable, CustomStringConvertible {
    case number(Int)
    case name(String)

    public var description: String {
        switch self {
        case .number(let n): return String(n)
        case .name(let s): return s
        }
    }
}

/// Everything a dataplane needs to know about one Service port (kube-proxy's `BaseServicePortInfo`).
public struct ServicePort: Hashable, Sendable {
    public var name: ServicePortName
    /// ClusterIPs of the Service (one per family); empty for `type: ExternalName`/headless, which are not kept.
    public var clusterIPs: [IPAddress]
    public var port: Int
    public var targetPort: TargetPort
    /// 0 when the Service has no NodePort.
    public var nodePort: Int
    public var externalIPs: [IPAddress]
    public var loadBalancerIPs: [IPAddress]
    public var loadBalancerSourceRanges: [CIDR]
    public var sessionAffinity: SessionAffinity
    public var externalTrafficPolicy: TrafficPolicy
    public var internalTrafficPolicy: TrafficPolicy
    /// 0 unless `externalTrafficPolicy: Local` on a LoadBalancer Service.
    public var healthCheckNodePort: Int
    /// `spec.trafficDistribution` (e.g. `PreferClose`), nil when unset.
    public var trafficDistribution: String?

    public init(
        name: ServicePortName, clusterIPs: [IPAddress], port: Int, targetPort: TargetPort = .number(0),
        nodePort: Int = 0, externalIPs: [IPAddress] = [], loadBalancerIPs: [IPAddress] = [],
        loadBalancerSourceRanges: [CIDR] = [], sessionAffinity: SessionAffinity = .none,
        externalTrafficPolicy: TrafficPolicy = .cluster, internalTrafficPolicy: TrafficPolicy = .cluster,
        healthCheckNodePort: Int = 0, trafficDistribution: String? = nil
    ) {
        self.name = name
        self.clusterIPs = clusterIPs
        self.port = port
        self.targetPort = targetPort
        self.nodePort = nodePort
        self.externalIPs = externalIPs
        self.loadBalancerIPs = loadBalancerIPs
        self.loadBalancerSourceRanges = loadBalancerSourceRanges
        self.sessionAffinity = sessionAffinity
        self.externalTrafficPolicy = externalTrafficPolicy
        self.internalTrafficPolicy = internalTrafficPolicy
        self.healthCheckNodePort = healthCheckNodePort
        self.trafficDistribution = trafficDistribution
    }

    public var `protocol`: TransportProtocol { name.protocol }

    /// Reachable from outside the cluster: a NodePort, an ExternalIP or a load-balancer IP.
    public var isExternallyAccessible: Bool {
        nodePort != 0 || !externalIPs.isEmpty || !loadBalancerIPs.isEmpty
    }

    /// `externalTrafficPolicy: Local` only matters when there is external traffic at all.
    public var externalPolicyIsLocal: Bool { isExternallyAccessible && externalTrafficPolicy == .local }
    public var internalPolicyIsLocal: Bool { internalTrafficPolicy == .local }

    /// Some traffic is sent to endpoints anywhere in the cluster. External-Local still needs them for
    /// traffic from pods on this node, which kube-proxy short-circuits to cluster endpoints.
    public var usesClusterEndpoints: Bool { !internalPolicyIsLocal || isExternallyAccessible }
    /// Some traffic is sent only to endpoints on this node.
    public var usesLocalEndpoints: Bool { internalPolicyIsLocal || externalPolicyIsLocal }
}
