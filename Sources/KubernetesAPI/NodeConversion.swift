import ProxyModel

extension NodeObject {
    /// The cluster autoscaler's taint on a node it is about to delete (kube-proxy's ToBeDeletedTaint).
    public static let toBeDeletedTaint = "ToBeDeletedByClusterAutoscaler"

    /// The model's view of our Node: its `InternalIP` and `ExternalIP` addresses (in that order;
    /// `Hostname` and DNS entries are not IPs), its labels, and whether it is going away: being
    /// deleted, or tainted for deletion by the cluster autoscaler (KEP-3836: /healthz fails first,
    /// so load balancers drain the node before it goes).
    public func nodeInfo() throws(ObjectRejection) -> NodeInfo {
        let v = FieldValidator(kind: "Node", object: metadata.name ?? "?")
        guard let name = metadata.name, !name.isEmpty else { throw v.reject(["metadata", "name"], "missing") }
        var addresses: [IPAddress] = []
        let all = status?.addresses ?? []
        for type in ["InternalIP", "ExternalIP"] {
            for (i, a) in all.enumerated() where a.type == type {
                let ip = try v.address(a.address ?? "", at: ["status", "addresses", String(i), "address"])
                if !addresses.contains(ip) { addresses.append(ip) }
            }
        }
        return NodeInfo(name: name, addresses: addresses, labels: metadata.labels ?? [:],
                        isTerminating: metadata.deletionTimestamp != nil
                            || (spec?.taints ?? []).contains { $0.key == Self.toBeDeletedTaint })
    }
}
