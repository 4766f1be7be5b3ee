/// One backend of a Service port, merged from EndpointSlices (kube-proxy's `BaseEndpointInfo`).
public struct Endpoint: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var address: IPAddress
    // The flags right after the address, in its padding: 80 bytes an endpoint where it was 88.
    /// `conditions.ready`: serving and not terminating.
    public var isReady: Bool
    /// `conditions.serving`: passes readiness, whether or not terminating.
    public var isServing: Bool
    public var isTerminating: Bool
    /// Runs on this node (its `nodeName` is ours).
    public var isLocal: Bool
    public var port: Int
    public var nodeName: String?
    public var zone: String?
    /// `hints.forZones`; empty when the slice gives none.
    public var zoneHints: Set<String>
    /// `hints.forNodes`; empty when the slice gives none.
    public var nodeHints: Set<String>

    public init(
        address: IPAddress, port: Int, isReady: Bool = true, isServing: Bool = true, isTerminating: Bool = false,
        isLocal: Bool = false, nodeName: String? = nil, zone: String? = nil,
        zoneHints: Set<String> = [], nodeHints: Set<String> = []
    ) {
        self.address = address
        self.port = port
        self.isReady = isReady
        self.isServing = isServing
        self.isTerminating = isTerminating
        self.isLocal = isLocal
        self.nodeName = nodeName
        self.zone = zone
        self.zoneHints = zoneHints
        self.nodeHints = nodeHints
    }

    /// `ip:port`, with brackets for IPv6, as kube-proxy prints endpoints.
    public var description: String {
        address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }

    public static func < (a: Endpoint, b: Endpoint) -> Bool { (a.address, a.port) < (b.address, b.port) }
}
