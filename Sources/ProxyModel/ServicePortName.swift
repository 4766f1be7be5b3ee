/// A Kubernetes object's identity within the cluster.
public struct NamespacedName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public var description: String { "\(namespace)/\(name)" }

    public static func < (a: NamespacedName, b: NamespacedName) -> Bool {
        (a.namespace, a.name) < (b.namespace, b.name)
    }
}

/// L4 protocols a Service port may use.
public enum TransportProtocol: String, Sendable, Hashable, CaseIterable, Comparable {
    case tcp = "TCP", udp = "UDP", sctp = "SCTP"

    public static func < (a: TransportProtocol, b: TransportProtocol) -> Bool { a.rawValue < b.rawValue }
}

/// One port of one Service: the unit every dataplane programs (kube-proxy's `ServicePortName`).
public struct ServicePortName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var service: NamespacedName
    /// The Service port's `name`; empty for a single unnamed port.
    public var port: String
    public var `protocol`: TransportProtocol

    public init(service: NamespacedName, port: String, protocol: TransportProtocol) {
        self.service = service
        self.port = port
        self.protocol = `protocol`
    }

    /// kube-proxy's spelling, `namespace/name:port` (the `:port` only for named ports), used in logs
    /// and metric labels so dashboards carry over.
    public var description: String { port.isEmpty ? service.description : "\(service):\(port)" }

    public static func < (a: ServicePortName, b: ServicePortName) -> Bool {
        (a.service, a.port, a.protocol) < (b.service, b.port, b.protocol)
    }
}
