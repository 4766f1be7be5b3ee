import HashTreeCollections

/// The immutable view every dataplane programs from: all Service ports and their endpoints, as of
/// one moment. Nothing else crosses from the sources to the dataplanes.
public struct ProxySnapshot: Sendable, Equatable {
    public var node: NodeInfo
    public var servicePorts: TreeDictionary<ServicePortName, ServicePort>
    // Persistent hash tries: a snapshot that differs from its predecessor in one Service shares
    // everything else with it, so taking one costs O(change), not O(Services) (10k Services: a
    // Dictionary copy took ~3-8 ms per snapshot, the trie ~µs).

    /// Endpoints of each Service port that has any, deduplicated and sorted by address and port.
    public var endpoints: TreeDictionary<ServicePortName, [Endpoint]>
    /// Increases by one with every snapshot a `ClusterState` takes.
    public var generation: Int

    public init(node: NodeInfo, servicePorts: TreeDictionary<ServicePortName, ServicePort> = [:],
                endpoints: TreeDictionary<ServicePortName, [Endpoint]> = [:], generation: Int = 0) {
        self.node = node
        self.servicePorts = servicePorts
        self.endpoints = endpoints
        self.generation = generation
    }

    /// From plain dictionaries (tests, tools); the snapshot stores them as tries.
    public init(node: NodeInfo, servicePorts: [ServicePortName: ServicePort], endpoints: [ServicePortName: [Endpoint]] = [:],
                generation: Int = 0) {
        self.init(node: node, servicePorts: TreeDictionary(servicePorts), endpoints: TreeDictionary(endpoints), generation: generation)
    }

    public static func empty(node: NodeInfo) -> ProxySnapshot { ProxySnapshot(node: node) }

    /// kube-proxy's endpoint categorization for one Service port of this snapshot.
    public func endpointSelection(for name: ServicePortName) -> EndpointSelection? {
        guard let service = servicePorts[name] else { return nil }
        return EndpointSelection(service: service, endpoints: endpoints[name] ?? [], node: node)
    }

    /// Service ports in a stable order, for renderers that must emit deterministic output.
    public var sortedServicePorts: [ServicePort] {
        servicePorts.values.sorted { $0.name < $1.name }
    }
}
