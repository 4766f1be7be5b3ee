import ProxyModel

extension EndpointSliceObject {
    public static let serviceNameLabel = "kubernetes.io/service-name"
    public static let triggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time"
    static let maxEndpoints = 10_000

    /// The slice's identity, `namespace/name`.
    public var namespacedName: NamespacedName {
        NamespacedName(namespace: metadata.namespace ?? "default", name: metadata.name ?? "")
    }

    /// The model's view of this slice; `nil` when kube-proxy would ignore it (no service-name
    /// label, FQDN addresses). Endpoints without an address (or with one not of the slice's family)
    /// and ports without numbers are skipped alone, as kube-proxy does; any other invalid field
    /// rejects the slice.
    public func sliceInfo() throws(ObjectRejection) -> EndpointSliceInfo? {
        let v = FieldValidator(kind: "EndpointSlice", object: "\(metadata.namespace ?? "default")/\(metadata.name ?? "?")")
        let name = try v.name(metadata)
        guard let serviceName = metadata.labels?[Self.serviceNameLabel], !serviceName.isEmpty else { return nil }
        let family: IPAddress.Family
        switch addressType {
        case "IPv4": family = .ipv4
        case "IPv6": family = .ipv6
        case "FQDN": return nil
        case let other: throw v.reject(["addressType"], "\"\(other ?? "")\" is not IPv4, IPv6 or FQDN")
        }
        let items = endpoints ?? []
        guard items.count <= Self.maxEndpoints else { throw v.reject(["endpoints"], "\(items.count) endpoints is more than a slice may hold") }

        var ports: [EndpointSliceInfo.Port] = []
        for (i, p) in (self.ports ?? []).enumerated() {
            guard p.port != nil else { continue }
            let at = ["ports", String(i)]
            ports.append(EndpointSliceInfo.Port(
                name: p.name ?? "", port: try v.port(p.port, at: at + ["port"]), protocol: try v.protocol(p.protocol, at: at + ["protocol"])))
        }
        var backends: [EndpointSliceInfo.Backend] = []
        for (i, ep) in items.enumerated() {
            guard let first = ep.addresses?.first else { continue }
            // The API server validates addresses, so one that does not parse is a broken object (or
            // a typo in a manifest file, which should be pointed at).
            let address = try v.address(first, at: ["endpoints", String(i), "addresses", "0"])
            // kube-proxy's endpointslicecache drops such an endpoint and keeps the rest of the slice.
            guard address.family == family else { continue }
            // Missing conditions: ready and serving (as kube-proxy reads them), not terminating.
            backends.append(EndpointSliceInfo.Backend(
                address: address, isReady: ep.conditions?.ready ?? true, isServing: ep.conditions?.serving ?? true,
                isTerminating: ep.conditions?.terminating ?? false,
                nodeName: ep.nodeName ?? ep.topology?["kubernetes.io/hostname"],
                zone: ep.zone ?? ep.topology?[NodeInfo.zoneLabel],
                zoneHints: Set((ep.hints?.forZones ?? []).compactMap(\.name)),
                nodeHints: Set((ep.hints?.forNodes ?? []).compactMap(\.name))))
        }
        let trigger = metadata.annotations?[Self.triggerTimeAnnotation].flatMap(KubernetesTime.secondsSince1970)
        return EndpointSliceInfo(
            name: name, service: NamespacedName(namespace: name.namespace, name: serviceName),
            ports: ports, backends: backends, lastChangeTriggerTime: trigger)
    }
}
