import ProxyModel

/// What `kubeproxy_sync_proxy_rules_no_local_endpoints_total` counts, as upstream's proxiers do:
/// Service ports with a Local traffic policy that have usable endpoints somewhere but none on this
/// node (their Local traffic is dropped). Ports with no endpoints at all are rejected, not counted.
/// Upstream's proxier of each family sees only that family's ClusterIP and endpoints: so here.
enum NoLocalEndpoints {
    struct Count: Equatable, Sendable {
        var `internal` = 0
        var external = 0
    }

    static func count(in snapshot: ProxySnapshot) -> [IPAddress.Family: Count] {
        var result: [IPAddress.Family: Count] = [:]
        for service in snapshot.servicePorts.values where service.usesLocalEndpoints {
            let endpoints = snapshot.endpoints[service.name] ?? []
            for family in Set(service.clusterIPs.map(\.family)) {
                let selection = EndpointSelection(service: service, endpoints: endpoints.filter { $0.address.family == family },
                                                  node: snapshot.node)
                guard selection.hasAnyEndpoints, selection.localEndpoints.isEmpty else { continue }
                if service.internalPolicyIsLocal { result[family, default: Count()].internal += 1 }
                if service.externalPolicyIsLocal { result[family, default: Count()].external += 1 }
            }
        }
        return result
    }
}
