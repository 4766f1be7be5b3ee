/// `v1/Node`: our own node's addresses and topology labels.
public struct NodeObject: Codable, Hashable, Sendable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public struct Spec: Codable, Hashable, Sendable {
        public var podCIDR: String?
        public var podCIDRs: [String]?
        public var taints: [Taint]?
    }

    public struct Taint: Codable, Hashable, Sendable {
        public var key: String?
        public var value: String?
        public var effect: String?
    }

    public struct Status: Codable, Hashable, Sendable {
        public struct Address: Codable, Hashable, Sendable {
            public var type: String?
            public var address: String?
        }
        public var addresses: [Address]?
    }
}
