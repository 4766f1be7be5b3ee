import ProxyModel

/// Small builders so each test states only what it is about.
enum Fixture {
    static let node = NodeInfo(name: "node-a", labels: [NodeInfo.zoneLabel: "zone-a"])

    static func name(_ service: String, port: String = "http", _ proto: TransportProtocol = .tcp) -> ServicePortName {
        ServicePortName(service: NamespacedName(namespace: "default", name: service), port: port, protocol: proto)
    }

    static func service(_ service: String, port: String = "http", _ proto: TransportProtocol = .tcp, clusterIP: String = "172.30.0.41",
                        nodePort: Int = 0, external: TrafficPolicy = .cluster, internal internalPolicy: TrafficPolicy = .cluster) -> ServicePort {
        ServicePort(name: name(service, port: port, proto), clusterIPs: [IPAddress(clusterIP)!], port: 80,
                    nodePort: nodePort, externalTrafficPolicy: external, internalTrafficPolicy: internalPolicy)
    }

    static func endpoint(_ ip: String, ready: Bool = true, serving: Bool? = nil, terminating: Bool = false,
                         local: Bool = false, zoneHints: Set<String> = [], nodeHints: Set<String> = []) -> Endpoint {
        Endpoint(address: IPAddress(ip)!, port: 8080, isReady: ready, isServing: serving ?? ready, isTerminating: terminating,
                 isLocal: local, nodeName: local ? "node-a" : "node-b", zoneHints: zoneHints, nodeHints: nodeHints)
    }

    static func slice(_ name: String, service: String, port: String = "http", number: Int = 8080,
                      _ proto: TransportProtocol = .tcp, backends: [EndpointSliceInfo.Backend]) -> EndpointSliceInfo {
        EndpointSliceInfo(name: NamespacedName(namespace: "default", name: name),
                          service: NamespacedName(namespace: "default", name: service),
                          ports: [.init(name: port, port: number, protocol: proto)], backends: backends)
    }

    static func backend(_ ip: String, ready: Bool = true, node: String? = "node-b") -> EndpointSliceInfo.Backend {
        EndpointSliceInfo.Backend(address: IPAddress(ip)!, isReady: ready, isServing: ready, nodeName: node)
    }
}
