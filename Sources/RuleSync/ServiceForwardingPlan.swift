import ProxyModel

/// What happens to traffic that reaches a Service frontend on this node.
public enum TrafficVerdict: Sendable, Hashable {
    /// Sent to one of these endpoints (never empty).
    case forward([Endpoint])
    /// The Service has no usable endpoint anywhere: refused at once (ICMP port unreachable / TCP reset).
    case reject
    /// A Local traffic policy and no endpoint on this node: dropped, as kube-proxy does
    /// (`kubeproxy_sync_proxy_rules_no_local_endpoints_total` counts these).
    case drop

    public var endpoints: [Endpoint] {
        if case .forward(let eps) = self { return eps }
        return []
    }
}

/// One address and port on which a Service port accepts traffic on this node.
public struct ServiceFrontend: Sendable, Hashable {
    public enum Kind: Sendable, Hashable { case clusterIP, externalIP, loadBalancer, nodePort }

    public var kind: Kind
    /// The destination address; nil for a NodePort, which listens on the plan's `NodePortScope`.
    public var address: IPAddress?
    public var port: Int

    public init(kind: Kind, address: IPAddress?, port: Int) {
        self.kind = kind
        self.address = address
        self.port = port
    }

    /// Traffic to this frontend follows `externalTrafficPolicy` (all but the ClusterIP).
    public var isExternal: Bool { kind != .clusterIP }
}

/// Where NodePorts accept traffic.
public enum NodePortScope: Sendable, Hashable {
    /// Every local address of the node but loopback (kube-proxy's default).
    case allLocalAddresses
    /// Local addresses inside these prefixes (`nodePortAddresses`), never loopback.
    case localAddresses(in: [CIDR])
}

/// Which traffic of one Service port is source-NATed to the node, so replies come back through it.
public struct MasqueradeDecision: Sendable, Hashable {
    /// ClusterIP traffic from every source (`masqueradeAll`).
    public var internalFromAnySource: Bool
    /// ClusterIP traffic from sources outside these pod ranges (off-cluster clients that route the
    /// Service range to a node); empty when `clusterCIDRs` is unset or `masqueradeAll` already covers it.
    public var internalUnlessFrom: [CIDR]
    /// External traffic (NodePort, ExternalIP, LB IP) with policy Cluster may be forwarded to another
    /// node, so it is always masqueraded.
    public var externalAlways: Bool
    /// With external policy Local: traffic from these pod ranges skips the policy and goes, source
    /// kept, to the cluster endpoints (as if it had gone out to the load balancer and back).
    public var externalLocalPodSources: [CIDR]
    /// With external policy Local: traffic from the node itself is masqueraded and sent to the cluster
    /// endpoints (its source would be the frontend address, a local one).
    public var externalLocalNodeSourcesToCluster: Bool
    /// An endpoint that reaches itself through the Service (hairpin) is always masqueraded, or its
    /// replies would bypass the NAT. True for every plan; named so renderers say why they add it.
    public var hairpin: Bool { true }
}

/// Everything a rule backend must program for one Service port in one address family: frontends,
/// which endpoints serve which traffic, and the reject/drop/masquerade/source-range/affinity decisions.
/// Dataplane-neutral: both the iptables and nftables renderers read this and nothing else of the model.
public struct ServiceForwardingPlan: Sendable, Hashable {
    public var name: ServicePortName
    public var family: IPAddress.Family
    public var clusterIP: IPAddress
    public var port: Int
    /// ClusterIP first, then ExternalIPs, LB IPs, the NodePort.
    public var frontends: [ServiceFrontend]
    /// Endpoints for traffic with policy Cluster (after topology and terminating fallback).
    public var clusterEndpoints: [Endpoint]
    /// Endpoints on this node, for traffic with policy Local.
    public var localEndpoints: [Endpoint]
    public var internalPolicyIsLocal: Bool
    public var externalPolicyIsLocal: Bool
    /// Some usable endpoint exists anywhere: false means every frontend rejects.
    public var hasAnyEndpoints: Bool
    /// ClientIP affinity timeout; nil without affinity.
    public var affinityTimeoutSeconds: Int?
    /// `loadBalancerSourceRanges` of this family: LB-IP traffic from elsewhere is dropped. Empty: no filter.
    public var loadBalancerSourceRanges: [CIDR]
    /// A source range contains a node address: traffic from the node to its own LB IP (looped back
    /// with the LB IP as source) is let through too, as kube-proxy does.
    public var loadBalancerAllowsNodeSources: Bool
    public var masquerade: MasqueradeDecision
    /// TCP port of the `externalTrafficPolicy: Local` health check server, accepted on the node; 0 if none.
    public var healthCheckNodePort: Int

    public init(name: ServicePortName, family: IPAddress.Family, clusterIP: IPAddress, port: Int, frontends: [ServiceFrontend],
                clusterEndpoints: [Endpoint], localEndpoints: [Endpoint], internalPolicyIsLocal: Bool, externalPolicyIsLocal: Bool,
                hasAnyEndpoints: Bool, affinityTimeoutSeconds: Int?, loadBalancerSourceRanges: [CIDR],
                loadBalancerAllowsNodeSources: Bool, masquerade: MasqueradeDecision, healthCheckNodePort: Int) {
        self.name = name
        self.family = family
        self.clusterIP = clusterIP
        self.port = port
        self.frontends = frontends
        self.clusterEndpoints = clusterEndpoints
        self.localEndpoints = localEndpoints
        self.internalPolicyIsLocal = internalPolicyIsLocal
        self.externalPolicyIsLocal = externalPolicyIsLocal
        self.hasAnyEndpoints = hasAnyEndpoints
        self.affinityTimeoutSeconds = affinityTimeoutSeconds
        self.loadBalancerSourceRanges = loadBalancerSourceRanges
        self.loadBalancerAllowsNodeSources = loadBalancerAllowsNodeSources
        self.masquerade = masquerade
        self.healthCheckNodePort = healthCheckNodePort
    }

    public var `protocol`: TransportProtocol { name.protocol }

    /// Verdict for ClusterIP traffic.
    public var internalVerdict: TrafficVerdict {
        if !hasAnyEndpoints { return .reject }
        let eps = internalPolicyIsLocal ? localEndpoints : clusterEndpoints
        return eps.isEmpty ? .drop : .forward(eps)
    }

    /// Verdict for external traffic that the Local-policy short-circuits (pod and node sources) did not take.
    public var externalVerdict: TrafficVerdict {
        if !hasAnyEndpoints { return .reject }
        let eps = externalPolicyIsLocal ? localEndpoints : clusterEndpoints
        return eps.isEmpty ? .drop : .forward(eps)
    }

    /// The Service port has external frontends (NodePort, ExternalIP, LB IP).
    public var isExternallyAccessible: Bool { frontends.contains(where: \.isExternal) }

    /// LB-IP traffic passes a source-range filter first.
    public var filtersLoadBalancerSources: Bool {
        hasAnyEndpoints && !loadBalancerSourceRanges.isEmpty && frontends.contains { $0.kind == .loadBalancer }
    }

    /// Traffic uses the cluster-policy endpoint list somewhere (ClusterIP with policy Cluster, external
    /// with policy Cluster, or the Local-policy short-circuits).
    public var usesClusterEndpoints: Bool {
        guard !clusterEndpoints.isEmpty else { return false }
        return !internalPolicyIsLocal || isExternallyAccessible
    }

    /// Traffic uses the local endpoint list somewhere.
    public var usesLocalEndpoints: Bool {
        !localEndpoints.isEmpty && (internalPolicyIsLocal || externalPolicyIsLocal)
    }

    /// Every endpoint some traffic may reach through this node: each needs its own DNAT (and
    /// affinity) state. Cluster endpoints first, in order, then local ones not already listed.
    public var reachableEndpoints: [Endpoint] {
        var all: [Endpoint] = usesClusterEndpoints ? clusterEndpoints : []
        if usesLocalEndpoints {
            // By address and port, not by "ip:port" text: two strings made per endpoint per full sync.
            var seen = Set(all.map(EndpointKey.init))
            for ep in localEndpoints where seen.insert(EndpointKey(ep)).inserted { all.append(ep) }
        }
        return all
    }

    /// ClusterIP traffic dropped because of internal policy Local with no local endpoint.
    public var dropsInternalForNoLocalEndpoints: Bool { internalVerdict == .drop }
    /// External traffic dropped because of external policy Local with no local endpoint.
    public var dropsExternalForNoLocalEndpoints: Bool { isExternallyAccessible && externalVerdict == .drop }
}

extension ServiceForwardingPlan {
    /// kube-proxy's per-Service-port decisions for `family`; nil when the Service port has no ClusterIP
    /// of that family (a single-stack Service in the other family's proxier).
    public init?(service: ServicePort, endpoints: [Endpoint], node: NodeInfo, config: RuleSyncConfig, family: IPAddress.Family) {
        guard let clusterIP = service.clusterIPs.first(where: { $0.family == family }) else { return nil }
        let familyEndpoints = endpoints.sharingFilter { $0.address.family == family }  // single-stack: no copy
        let selection = EndpointSelection(service: service, endpoints: familyEndpoints, node: node)

        var frontends = [ServiceFrontend(kind: .clusterIP, address: clusterIP, port: service.port)]
        for ip in service.externalIPs where ip.family == family {
            frontends.append(ServiceFrontend(kind: .externalIP, address: ip, port: service.port))
        }
        for ip in service.loadBalancerIPs where ip.family == family {
            frontends.append(ServiceFrontend(kind: .loadBalancer, address: ip, port: service.port))
        }
        if service.nodePort != 0 {
            frontends.append(ServiceFrontend(kind: .nodePort, address: nil, port: service.nodePort))
        }

        let podRanges = config.clusterCIDRs(of: family)
        let ranges = service.loadBalancerSourceRanges.filter { $0.family == family }
        let externalLocal = service.externalPolicyIsLocal

        self.init(
            name: service.name, family: family, clusterIP: clusterIP, port: service.port, frontends: frontends,
            clusterEndpoints: selection.clusterEndpoints, localEndpoints: selection.localEndpoints,
            internalPolicyIsLocal: service.internalPolicyIsLocal, externalPolicyIsLocal: externalLocal,
            hasAnyEndpoints: selection.hasAnyEndpoints,
            affinityTimeoutSeconds: {
                if case .clientIP(let t) = service.sessionAffinity { return t }
                return nil
            }(),
            loadBalancerSourceRanges: ranges,
            loadBalancerAllowsNodeSources: ranges.contains { r in node.addresses.contains { r.contains($0) } },
            masquerade: MasqueradeDecision(
                internalFromAnySource: config.masqueradeAll,
                internalUnlessFrom: config.masqueradeAll ? [] : podRanges,
                externalAlways: !externalLocal,
                externalLocalPodSources: externalLocal ? podRanges : [],
                externalLocalNodeSourcesToCluster: externalLocal
            ),
            healthCheckNodePort: service.healthCheckNodePort
        )
    }
}

/// The plan of a whole snapshot for one address family.
public struct ForwardingPlan: Sendable, Hashable {
    public var family: IPAddress.Family
    public var nodePorts: NodePortScope
    public var services: [ServicePortName: ServiceForwardingPlan]

    public init(snapshot: ProxySnapshot, config: RuleSyncConfig, family: IPAddress.Family) {
        self.family = family
        nodePorts = ForwardingPlan.nodePortScope(config: config, node: snapshot.node, family: family)
        var services: [ServicePortName: ServiceForwardingPlan] = [:]
        services.reserveCapacity(snapshot.servicePorts.count)
        for (name, service) in snapshot.servicePorts {
            services[name] = ServiceForwardingPlan(service: service, endpoints: snapshot.endpoints[name] ?? [],
                                                   node: snapshot.node, config: config, family: family)
        }
        self.services = services
    }

    public static func nodePortScope(config: RuleSyncConfig, node: NodeInfo, family: IPAddress.Family) -> NodePortScope {
        // Per family, as upstream's NodePortAddresses: no prefix of this family, or its zero prefix
        // (0.0.0.0/0, ::/0), means every local address of the family.
        let cidrs = config.nodePortAddresses(of: family, node: node)
        // Loopback is left out here for every backend (`NodePortLoopback`).
        if cidrs.isEmpty || cidrs.contains(where: { $0.prefixLength == 0 }) { return .allLocalAddresses }
        return .localAddresses(in: cidrs.flatMap(NodePortLoopback.excluding))
    }

    /// Service ports in a stable order, for deterministic output.
    public var sortedServices: [ServiceForwardingPlan] { services.values.sorted { $0.name < $1.name } }

    public var noLocalEndpointsInternal: Int { services.values.count(where: \.dropsInternalForNoLocalEndpoints) }
    public var noLocalEndpointsExternal: Int { services.values.count(where: \.dropsExternalForNoLocalEndpoints) }
}
