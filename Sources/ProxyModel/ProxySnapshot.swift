/// The immutable view every dataplane programs from: all Service ports and their endpoints, as of
/// one moment. Nothing else crosses from the sources to the dataplanes.
public struct ProxySnapshot: Sendable, Equatable {
    public var node: NodeInfo
    public var servicePorts: [ServicePortName: ServicePort]
    /// Endpoints of each Service port that has any, deduplicated and sorted by address and port.
    public var endpoints: [ServicePortName: [Endpoint]]
    /// Increases by one with every snapshot a `ClusterState` takes.
    public var generation: Int

    public init(node: NodeInfo, servicePorts: [ServicePortName: ServicePort] = [:],
                endpoints: [ServicePortName: [Endpoint]] = [:], generation: Int = 0) {
        self.node = node
        self.servicePorts = servicePorts
        self.endpoints = endpoints
        self.generation = generation
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
