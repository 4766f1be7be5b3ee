import ProxyModel
@testable import RuleSync

/// Small builders so tests read like the Services they describe.
enum Fixture {
    static let nodeIP = IPAddress("192.168.0.2")!
    static let node = NodeInfo(name: "node1", addresses: [nodeIP])
    static let config = RuleSyncConfig(clusterCIDRs: [CIDR("10.0.0.0/8")!])

    static func name(_ ns: String, _ svc: String, _ port: String = "p80", _ proto: TransportProtocol = .tcp) -> ServicePortName {
        ServicePortName(service: NamespacedName(namespace: ns, name: svc), port: port, protocol: proto)
    }

    static func service(_ name: ServicePortName, _ clusterIP: String, port: Int = 80, nodePort: Int = 0,
                        externalIPs: [String] = [], lbIPs: [String] = [], sourceRanges: [String] = [],
                        affinity: SessionAffinity = .none, externalPolicy: TrafficPolicy = .cluster,
                        internalPolicy: TrafficPolicy = .cluster) -> ServicePort {
        ServicePort(name: name, clusterIPs: [IPAddress(clusterIP)!], port: port, nodePort: nodePort,
                    externalIPs: externalIPs.map { IPAddress($0)! }, loadBalancerIPs: lbIPs.map { IPAddress($0)! },
                    loadBalancerSourceRanges: sourceRanges.map { CIDR($0)! }, sessionAffinity: affinity,
                    externalTrafficPolicy: externalPolicy, internalTrafficPolicy: internalPolicy)
    }

    static func endpoint(_ ip: String, _ port: Int = 8080, local: Bool = false) -> Endpoint {
        Endpoint(address: IPAddress(ip)!, port: port, isLocal: local, nodeName: local ? "node1" : "node2")
    }

    static func snapshot(_ services: [(ServicePort, [Endpoint])], node: NodeInfo = node) -> ProxySnapshot {
        var s = ProxySnapshot(node: node)
        for (svc, eps) in services {
            s.servicePorts[svc.name] = svc
            if !eps.isEmpty { s.endpoints[svc.name] = eps.sorted() }
        }
        return s
    }

    static func render(_ snapshot: ProxySnapshot, config: RuleSyncConfig = config, family: IPAddress.Family = .ipv4) -> String {
        let renderer = IPTablesRenderer(config: config, family: family)
        let plan = ForwardingPlan(snapshot: snapshot, config: config, family: family)
        return IPTablesRestoreInput.full(IPTablesRuleset(plan: plan, renderer: renderer)).text
    }

    static func tracer(_ snapshot: ProxySnapshot, config: RuleSyncConfig = config, family: IPAddress.Family = .ipv4,
                       local: Set<IPAddress> = [nodeIP, IPAddress("127.0.0.1")!]) -> IPTablesTracer {
        IPTablesTracer(restoreInput: render(snapshot, config: config, family: family), localAddresses: local)
    }
}

extension Set where Element == IPTablesTracer.Outcome {
    static func dnat(_ dests: String..., masquerade: Bool = false) -> Self {
        Set(dests.map { IPTablesTracer.Outcome(verdict: .accept, dnat: $0, masqueraded: masquerade) })
    }
    static func verdict(_ v: IPTablesTracer.Verdict) -> Self { [IPTablesTracer.Outcome(verdict: v, dnat: nil, masqueraded: false)] }
}
