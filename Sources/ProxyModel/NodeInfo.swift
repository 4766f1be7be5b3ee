/// What the proxy knows about the node it runs on.
public struct NodeInfo: Hashable, Sendable {
    public static let zoneLabel = "topology.kubernetes.io/zone"

    public var name: String
    public var addresses: [IPAddress]
    /// The node's primary address of each family, at most one per family: what NodePorts are served
    /// on with `nodePortAddresses: [primary]`. From a Node object, the first address of each family
    /// in `addresses` (InternalIP before ExternalIP), as kube-proxy's node IP detection; without one,
    /// whatever the daemon chose (the default route's address).
    public var primaryAddresses: [IPAddress]
    public var labels: [String: String]
    /// The Node is being deleted, or tainted `ToBeDeletedByClusterAutoscaler` (`/healthz` reports
    /// it, so load balancers drain us).
    public var isTerminating: Bool

    /// `primaryAddresses` nil: the first address of each family in `addresses`.
    public init(name: String, addresses: [IPAddress] = [], primaryAddresses: [IPAddress]? = nil,
                labels: [String: String] = [:], isTerminating: Bool = false) {
        self.name = name
        self.addresses = addresses
        self.primaryAddresses = primaryAddresses ?? NodeInfo.firstOfEachFamily(addresses)
        self.labels = labels
        self.isTerminating = isTerminating
    }

    public var zone: String? { labels[NodeInfo.zoneLabel] }

    /// The primary address of `family`, if the node has one.
    public func primaryAddress(of family: IPAddress.Family) -> IPAddress? {
        primaryAddresses.first { $0.family == family }
    }

    /// Upstream's `GetNodeHostIPs` per family: the first address of each family, in the given order.
    public static func firstOfEachFamily(_ addresses: [IPAddress]) -> [IPAddress] {
        var result: [IPAddress] = []
        for a in addresses where !result.contains(where: { $0.family == a.family }) { result.append(a) }
        return result
    }
}
