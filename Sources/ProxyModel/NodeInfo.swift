/// What the proxy knows about the node it runs on.
public struct NodeInfo: Hashable, Sendable {
    public static let zoneLabel = "topology.kubernetes.io/zone"

    public var name: String
    public var addresses: [IPAddress]
    public var labels: [String: String]
    /// The Node is being deleted, or tainted `ToBeDeletedByClusterAutoscaler` (`/healthz` reports
    /// it, so load balancers drain us).
    public var isTerminating: Bool

    public init(name: String, addresses: [IPAddress] = [], labels: [String: String] = [:], isTerminating: Bool = false) {
        self.name = name
        self.addresses = addresses
        self.labels = labels
        self.isTerminating = isTerminating
    }

    public var zone: String? { labels[NodeInfo.zoneLabel] }
}
