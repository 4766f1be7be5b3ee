import ProxyModel

extension NodeObject {
    /// The model's view of our Node: its `InternalIP` and `ExternalIP` addresses (in that order;
    /// `Hostname` and DNS entries are not IPs), its labels, and whether it is being deleted.
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
                        isTerminating: metadata.deletionTimestamp != nil)
    }
}
