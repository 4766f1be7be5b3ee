/// The parts of a `discovery.k8s.io` EndpointSlice (or a converted `v1/Endpoints` subset) that
/// the proxy uses, already validated. Sources produce these; `ClusterState` joins them to Services.
public struct EndpointSliceInfo: Hashable, Sendable {
    public struct Port: Hashable, Sendable {
        public var name: String
        public var port: Int
        public var `protocol`: TransportProtocol

        public init(name: String, port: Int, protocol: TransportProtocol) {
            self.name = name
            self.port = port
            self.protocol = `protocol`
        }
    }

    public struct Backend: Hashable, Sendable {
        /// The first address only: kube-proxy ignores the rest.
        public var address: IPAddress
        public var isReady: Bool
        public var isServing: Bool
        public var isTerminating: Bool
        public var nodeName: String?
        public var zone: String?
        public var zoneHints: Set<String>
        public var nodeHints: Set<String>

        public init(
            address: IPAddress, isReady: Bool = true, isServing: Bool = true, isTerminating: Bool = false,
            nodeName: String? = nil, zone: String? = nil, zoneHints: Set<String> = [], nodeHints: Set<String> = []
        ) {
            self.address = address
            self.isReady = isReady
            self.isServing = isServing
            self.isTerminating = isTerminating
            self.nodeName = nodeName
            self.zone = zone
            self.zoneHints = zoneHints
            self.nodeHints = nodeHints
        }
    }

    /// The slice's own namespace/name.
    public var name: NamespacedName
    /// The Service it belongs to (label `kubernetes.io/service-name`).
    public var service: NamespacedName
    public var ports: [Port]
    public var backends: [Backend]
    /// `endpoints.kubernetes.io/last-change-trigger-time`, seconds since 1970, for
    /// `kubeproxy_network_programming_duration_seconds`.
    public var lastChangeTriggerTime: Double?

    public init(name: NamespacedName, service: NamespacedName, ports: [Port], backends: [Backend], lastChangeTriggerTime: Double? = nil) {
        self.name = name
        self.service = service
        self.ports = ports
        self.backends = backends
        self.lastChangeTriggerTime = lastChangeTriggerTime
    }
}
