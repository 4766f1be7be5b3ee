import ProxyModel

/// Addresses and builders the standard scenarios use. Backends are the topology's pods; a rule
/// backend under test should use `clusterCIDRs: [Topology.clusterCIDR]`.
public enum ScenarioWorld {
    public static let clusterIP = IPAddress("172.30.0.10")!
    public static let externalIP = IPAddress("192.168.60.10")!
    public static let loadBalancerIP = IPAddress("192.168.70.10")!
    public static let servicePort = 80
    public static let nodePort = 30080
    public static let node = NodeInfo(name: "node1", addresses: [Topology.nodeAddress])
    public static let name = ServicePortName(service: NamespacedName(namespace: "scenario", name: "echo"), port: "", protocol: .tcp)
    public static let udpName = ServicePortName(service: NamespacedName(namespace: "scenario", name: "echo"), port: "udp", protocol: .udp)

    public static func service(_ name: ServicePortName = name, nodePort: Int = 0, externalIPs: [IPAddress] = [],
                               loadBalancerIPs: [IPAddress] = [], sourceRanges: [CIDR] = [], affinity: SessionAffinity = .none,
                               externalPolicy: TrafficPolicy = .cluster) -> ServicePort {
        ServicePort(name: name, clusterIPs: [clusterIP], port: servicePort, targetPort: .number(Topology.backendPort),
                    nodePort: nodePort, externalIPs: externalIPs, loadBalancerIPs: loadBalancerIPs,
                    loadBalancerSourceRanges: sourceRanges, sessionAffinity: affinity, externalTrafficPolicy: externalPolicy)
    }

    /// Endpoints on the given pods; `local` (default: all) run on this node.
    public static func endpoints(_ pods: [Int], local: Set<Int>? = nil) -> [Endpoint] {
        pods.map { i in
            let isLocal = local?.contains(i) ?? true
            return Endpoint(address: Topology.podAddress(i), port: Topology.backendPort, isLocal: isLocal,
                            nodeName: isLocal ? node.name : "elsewhere")
        }
    }

    public static func snapshot(_ entries: [(ServicePort, [Endpoint])], node: NodeInfo = node) -> ProxySnapshot {
        var s = ProxySnapshot(node: node)
        for (svc, eps) in entries {
            s.servicePorts[svc.name] = svc
            if !eps.isEmpty { s.endpoints[svc.name] = eps.sorted() }
        }
        return s
    }
}

extension Scenario {
    typealias W = ScenarioWorld

    /// The behaviours every rule backend is held to (issue 4 and 5: "share the scenario list").
    public static let standard: [Scenario] = [
        Scenario("ClusterIP and NodePort round-robin; masquerade only for off-cluster clients", pods: 3, [
            .apply(W.snapshot([(W.service(nodePort: W.nodePort), W.endpoints([1, 2, 3]))])),
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort, count: 6), .reaches([1, 2, 3], evenly: true, source: .client)),
            .probe(.externalClient, Probe(.tcp, W.clusterIP, W.servicePort, count: 3), .reaches([1, 2, 3], source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, W.nodePort, count: 6), .reaches([1, 2, 3], evenly: true, source: .masqueraded)),
        ]),
        Scenario("UDP ClusterIP round-robin", pods: 2, [
            // Endpoints "on other nodes": their DNAT may be inlined in the Service chain.
            .apply(W.snapshot([(W.service(W.udpName), W.endpoints([1, 2], local: []))])),
            .probe(.podClient, Probe(.udp, W.clusterIP, W.servicePort, count: 4), .reaches([1, 2], evenly: true, source: .client)),
        ]),
        Scenario("ClientIP affinity sticks", pods: 3, [
            .apply(W.snapshot([(W.service(affinity: .clientIP(timeoutSeconds: 300)), W.endpoints([1, 2, 3]))])),
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort, count: 5), .sticks(to: [1, 2, 3], source: .client)),
        ]),
        Scenario("A Service with no endpoints refuses at once", pods: 1, [
            .apply(W.snapshot([(W.service(nodePort: W.nodePort, externalIPs: [W.externalIP]), [])])),
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort), .refused),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, W.nodePort), .refused),
            .probe(.externalClient, Probe(.tcp, W.externalIP, W.servicePort), .refused),
        ]),
        Scenario("externalTrafficPolicy Local keeps the source, uses local endpoints, drops without them", pods: 3, [
            .apply(W.snapshot([(W.service(nodePort: W.nodePort, externalPolicy: .local), W.endpoints([1, 2, 3], local: [1]))])),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, W.nodePort, count: 4), .reaches([1], source: .client)),
            .apply(W.snapshot([(W.service(nodePort: W.nodePort, externalPolicy: .local), W.endpoints([2, 3], local: []))])),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, W.nodePort, timeoutSeconds: 1), .unanswered),
            // ClusterIP traffic is not subject to the external policy.
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort, count: 2), .reaches([2, 3], evenly: true, source: .client)),
        ]),
        Scenario("ExternalIP and LB IP with loadBalancerSourceRanges", pods: 2, [
            .apply(W.snapshot([(W.service(externalIPs: [W.externalIP], loadBalancerIPs: [W.loadBalancerIP],
                                          sourceRanges: [CIDR("192.168.50.0/24")!]), W.endpoints([1, 2]))])),
            .probe(.externalClient, Probe(.tcp, W.externalIP, W.servicePort, count: 2), .reaches([1, 2], evenly: true, source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, W.loadBalancerIP, W.servicePort, count: 2), .reaches([1, 2], source: .masqueraded)),
            .apply(W.snapshot([(W.service(externalIPs: [W.externalIP], loadBalancerIPs: [W.loadBalancerIP],
                                          sourceRanges: [CIDR("203.0.113.0/24")!]), W.endpoints([1, 2]))])),
            .probe(.externalClient, Probe(.tcp, W.loadBalancerIP, W.servicePort, timeoutSeconds: 1), .unanswered),
            .probe(.externalClient, Probe(.tcp, W.externalIP, W.servicePort), .reaches([1, 2])),
        ]),
        Scenario("An endpoint removed stops receiving; a Service removed stops answering", pods: 3, [
            .apply(W.snapshot([(W.service(), W.endpoints([1, 2, 3]))])),
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort, count: 6), .reaches([1, 2, 3], evenly: true)),
            .apply(W.snapshot([(W.service(), W.endpoints([1, 2]))])),
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort, count: 6), .reaches([1, 2], evenly: true)),
            .apply(W.snapshot([(W.service(), [])])),
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort), .refused),
            .apply(W.snapshot([(W.service(), W.endpoints([3]))])),
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort, count: 2), .reaches([3])),
            .apply(W.snapshot([])),
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort, timeoutSeconds: 1), .unanswered),
        ]),
        // Upstream's nftables proxier test shape: eTP Local, the only endpoints on another node.
        Scenario("The node reaches a Local-policy LB IP and ExternalIP whose endpoints are all remote", pods: 2, [
            .apply(W.snapshot([(W.service(externalIPs: [W.externalIP], loadBalancerIPs: [W.loadBalancerIP], externalPolicy: .local),
                                W.endpoints([1, 2], local: []))])),
            .probe(.node, Probe(.tcp, W.loadBalancerIP, W.servicePort, count: 2), .reaches([1, 2], source: .masqueraded)),
            .probe(.node, Probe(.tcp, W.externalIP, W.servicePort, count: 2), .reaches([1, 2], source: .masqueraded)),
            .probe(.podClient, Probe(.tcp, W.loadBalancerIP, W.servicePort, count: 2), .reaches([1, 2], source: .client)),
            .probe(.externalClient, Probe(.tcp, W.loadBalancerIP, W.servicePort, timeoutSeconds: 1), .unanswered),
        ]),
        Scenario("Foreign rules are untouched by syncs and by cleanup", pods: 1, [
            .installForeignRules,
            .apply(W.snapshot([(W.service(nodePort: W.nodePort), W.endpoints([1]))])),
            .apply(W.snapshot([(W.service(nodePort: W.nodePort), W.endpoints([1]))])),
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort), .reaches([1])),
            .expectForeignRulesIntact,
            .cleanup,
            .expectForeignRulesIntact,
            .expectNoRulesOfOurs,
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort, timeoutSeconds: 1), .unanswered),
        ]),
    ]
}
