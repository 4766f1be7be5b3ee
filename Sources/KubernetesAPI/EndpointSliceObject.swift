/// `discovery.k8s.io/v1/EndpointSlice` (v1beta1 decodes into the same shape; its `topology` map
/// supplies the zone when `zone` is absent).
public struct EndpointSliceObject: Codable, Hashable, Sendable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var addressType: String?
    public var endpoints: [Endpoint]?
    public var ports: [Port]?

    public struct Endpoint: Codable, Hashable, Sendable {
        public var addresses: [String]?
        public var conditions: Conditions?
        public var nodeName: String?
        public var zone: String?
        public var hints: Hints?
        /// v1beta1 only.
        public var topology: [String: String]?
    }

    public struct Conditions: Codable, Hashable, Sendable {
        public var ready: Bool?
        public var serving: Bool?
        public var terminating: Bool?
    }

    public struct Hints: Codable, Hashable, Sendable {
        public struct Named: Codable, Hashable, Sendable { public var name: String? }
        public var forZones: [Named]?
        public var forNodes: [Named]?
    }

    public struct Port: Codable, Hashable, Sendable {
        public var name: String?
        public var `protocol`: String?
        public var port: Int?
        public var appProtocol: String?
    }
}
