/// `v1/Endpoints`, the pre-EndpointSlice form kube-proxy can still read (`endpointsSource: endpoints`).
public struct EndpointsObject: Codable, Hashable, Sendable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var subsets: [Subset]?

    /// A set of addresses that all serve the same ports.
    public struct Subset: Codable, Hashable, Sendable {
        public var addresses: [Address]?
        public var notReadyAddresses: [Address]?
        public var ports: [Port]?
    }

    public struct Address: Codable, Hashable, Sendable {
        public var ip: String?
        public var hostname: String?
        public var nodeName: String?
    }

    public struct Port: Codable, Hashable, Sendable {
        public var name: String?
        public var port: Int?
        public var `protocol`: String?
        public var appProtocol: String?
    }
}
