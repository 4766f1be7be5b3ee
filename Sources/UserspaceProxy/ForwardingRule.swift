public enum ProxyProtocol: String, Hashable, Sendable {
    case tcp, udp
}

/// One service port as the userspace proxy sees it: where to listen and which endpoints to forward to.
/// The daemon builds these from snapshots; the proxy knows nothing about Kubernetes objects.
public struct ForwardingRule: Hashable, Sendable {
    /// e.g. "default/web:http"; keys the statistics and appears in logs.
    public var name: String
    public var `protocol`: ProxyProtocol
    /// Every node address × the node port.
    public var listenAddresses: [ProxyAddress]
    /// Ready endpoints, in the order round-robin visits them. Empty: connections are reset.
    public var backends: [ProxyAddress]
    /// ClientIP session affinity: a client sticks to its endpoint until idle for longer than this.
    public var affinityTimeout: Duration?

    public init(
        name: String,
        protocol: ProxyProtocol,
        listenAddresses: [ProxyAddress],
        backends: [ProxyAddress],
        affinityTimeout: Duration? = nil
    ) {
        self.name = name
        self.protocol = `protocol`
        self.listenAddresses = listenAddresses
        self.backends = backends
        self.affinityTimeout = affinityTimeout
    }
}

/// A listen address that `apply` could not open; the rest of the rules are applied regardless.
public struct ListenFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public var rule: String
    public var `protocol`: ProxyProtocol
    public var address: ProxyAddress
    public var reason: String

    public var description: String { "\(rule): cannot listen on \(`protocol`) \(address): \(reason)" }
}
