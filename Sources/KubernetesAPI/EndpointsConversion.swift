import ProxyModel

extension EndpointsObject {
    static let maxAddresses = 10_000

    public var namespacedName: NamespacedName {
        NamespacedName(namespace: metadata.namespace ?? "default", name: metadata.name ?? "")
    }

    /// The model's view of these Endpoints: one slice per subset, named `<name>/subset-<i>`, all
    /// belonging to the Service of the same name. Addresses in `notReadyAddresses` are neither ready
    /// nor serving (`v1/Endpoints` cannot say "terminating"). Any invalid field rejects the object.
    public func sliceInfos() throws(ObjectRejection) -> [EndpointSliceInfo] {
        let v = FieldValidator(kind: "Endpoints", object: "\(metadata.namespace ?? "default")/\(metadata.name ?? "?")")
        let service = try v.name(metadata)
        let trigger = metadata.annotations?[EndpointSliceObject.triggerTimeAnnotation].flatMap(KubernetesTime.secondsSince1970)
        var result: [EndpointSliceInfo] = []
        for (s, subset) in (subsets ?? []).enumerated() {
            let at = ["subsets", String(s)]
            var ports: [EndpointSliceInfo.Port] = []
            for (i, p) in (subset.ports ?? []).enumerated() {
                let pat = at + ["ports", String(i)]
                ports.append(EndpointSliceInfo.Port(
                    name: p.name ?? "", port: try v.port(p.port, at: pat + ["port"]),
                    protocol: try v.protocol(p.protocol, at: pat + ["protocol"])))
            }
            let ready = subset.addresses ?? []
            let notReady = subset.notReadyAddresses ?? []
            guard ready.count + notReady.count <= Self.maxAddresses else {
                throw v.reject(at, "\(ready.count + notReady.count) addresses is more than a subset may hold")
            }
            var backends: [EndpointSliceInfo.Backend] = []
            for (field, addresses, isReady) in [("addresses", ready, true), ("notReadyAddresses", notReady, false)] {
                for (i, a) in addresses.enumerated() {
                    let aat = at + [field, String(i), "ip"]
                    guard let ip = a.ip else { throw v.reject(aat, "missing") }
                    backends.append(EndpointSliceInfo.Backend(
                        address: try v.address(ip, at: aat), isReady: isReady, isServing: isReady,
                        isTerminating: false, nodeName: a.nodeName))
                }
            }
            result.append(EndpointSliceInfo(
                name: NamespacedName(namespace: service.namespace, name: "\(service.name)/subset-\(s)"),
                service: service, ports: ports, backends: backends, lastChangeTriggerTime: trigger))
        }
        return result
    }
}
