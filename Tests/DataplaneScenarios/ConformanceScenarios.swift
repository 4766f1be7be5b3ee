import ProxyModel

/// Upstream kube-proxy's proxier tests (`pkg/proxy/iptables/proxier_test.go`,
/// `pkg/proxy/nftables/proxier_test.go`, `pkg/proxy/topology_test.go`) check the rules they render
/// by tracing packets through them. The same Service shapes here send real packets: which pods answer,
/// the source they saw, refusal (REJECT) vs silence (DROP) vs not intercepted. Issue #11, item 1.
public enum ConformanceWorld {
    public static let clusterIP = IPAddress("172.30.0.41")!
    /// A second Service whose only endpoint is pod 1 (hairpin).
    public static let hairpinClusterIP = IPAddress("172.30.0.42")!
    /// A third Service whose only endpoint is on node 2.
    public static let remoteOnlyClusterIP = IPAddress("172.30.0.43")!
    public static let port = 80
    public static let nodePort = 30001
    public static let loadBalancerIP = ScenarioWorld.loadBalancerIP
    public static let externalIP = ScenarioWorld.externalIP
    /// Lets the external client (192.168.50.2) and the node (192.168.50.1) in; not the blocked client
    /// (192.168.51.2) nor pods.
    public static let allowedRange = CIDR("192.168.50.0/24")!
    public static let zone = "zone-a"
    public static let node = NodeInfo(name: "node1", addresses: [Topology.nodeAddress], labels: [NodeInfo.zoneLabel: zone])
    public static let remoteNodeName = "node2"

    public static func service(_ name: String = "svc", proto: TransportProtocol = .tcp, clusterIP: IPAddress = clusterIP, nodePort: Int = 0,
                               externalIPs: [IPAddress] = [], loadBalancerIPs: [IPAddress] = [], sourceRanges: [CIDR] = [],
                               affinity: SessionAffinity = .none, externalPolicy: TrafficPolicy = .cluster,
                               internalPolicy: TrafficPolicy = .cluster) -> ServicePort {
        ServicePort(name: ServicePortName(service: NamespacedName(namespace: "conformance", name: name),
                                          port: "p80-\(proto.rawValue.lowercased())", protocol: proto),
                    clusterIPs: [clusterIP], port: port, targetPort: .number(Topology.backendPort), nodePort: nodePort,
                    externalIPs: externalIPs, loadBalancerIPs: loadBalancerIPs, loadBalancerSourceRanges: sourceRanges,
                    sessionAffinity: affinity, externalTrafficPolicy: externalPolicy, internalTrafficPolicy: internalPolicy)
    }

    /// Pod i on this node, ready.
    public static func local(_ pod: Int) -> Endpoint {
        Endpoint(address: Topology.podAddress(pod), port: Topology.backendPort, isLocal: true, nodeName: node.name, zone: zone)
    }

    /// Pod i behind node 2 (the scenario must list it in `remotePods`), ready.
    public static func remote(_ pod: Int) -> Endpoint {
        Endpoint(address: Topology.podAddress(pod), port: Topology.backendPort, isLocal: false, nodeName: remoteNodeName, zone: "zone-b")
    }

    public static func snapshot(_ entries: [(ServicePort, [Endpoint])]) -> ProxySnapshot {
        ScenarioWorld.snapshot(entries, node: node)
    }
}

extension Endpoint {
    /// Terminating; still passing readiness when `serving`.
    public func terminating(serving: Bool) -> Endpoint {
        var e = self
        e.isReady = false
        e.isServing = serving
        e.isTerminating = true
        return e
    }

    public func hinted(_ zones: Set<String>) -> Endpoint {
        var e = self
        e.zoneHints = zones
        return e
    }
}

extension Scenario {
    typealias CW = ConformanceWorld
    static let iptablesTest = "pkg/proxy/iptables/proxier_test.go"
    static let nftablesTest = "pkg/proxy/nftables/proxier_test.go"
    static let bothTests = "pkg/proxy/{iptables,nftables}/proxier_test.go"
    static let topologyTest = "pkg/proxy/topology_test.go"
    /// The nftables renderer's own divergences (unallocated ClusterIPs, source
    /// ranges without endpoints, hairpin) belong to the flat-ruleset issue.
    static let nftablesIssue = "issue #10"
    /// Being closed for iptables mode now (localhost NodePorts, nodePortAddresses of one family).
    /// The same divergence in nftables mode (issue #11's nodePortAddresses item, not the flat ruleset's).

    /// Upstream's packet-flow cases as real-packet scenarios, each named after the test it mirrors.
    public static let conformance: [Scenario] = general + external + policies + masquerade + addresses + topology

    /// The scenarios whose upstream counterpart holds for `backend`'s mode.
    public static func conformance(for backend: ScenarioBackend) -> [Scenario] {
        conformance.filter { $0.backends.contains(backend) }
    }

    static let general: [Scenario] = [
        // Pods are not masqueraded, everything else reaching a ClusterIP from outside the cluster CIDR
        // is; a pod that reaches itself through a Service (hairpin) is, or its reply would bypass the node.
        Scenario("TestClusterIPGeneral: local and remote endpoints, masquerade off-cluster and hairpin", upstream: bothTests,
                 pods: 3, remotePods: [3], [
            .apply(CW.snapshot([(CW.service(), [CW.local(1), CW.local(2), CW.remote(3)]),
                                (CW.service(proto: .udp), [CW.local(1), CW.remote(3)]),
                                (CW.service("hairpin", clusterIP: CW.hairpinClusterIP), [CW.local(1)])])),
            .probe(.podClient, Probe(.udp, CW.clusterIP, CW.port, count: 4), .reaches([1, 3], evenly: true, source: .client)),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 6), .reaches([1, 2, 3], evenly: true, source: .client)),
            .probe(.externalClient, Probe(.tcp, CW.clusterIP, CW.port, count: 3), .reaches([1, 2, 3], source: .masqueraded)),
            .probe(.node, Probe(.tcp, CW.clusterIP, CW.port, count: 3), .reaches([1, 2, 3], source: .masqueraded)),
            .probe(.pod(1), Probe(.tcp, CW.hairpinClusterIP, CW.port, count: 2), .reaches([1], source: .address(Topology.podGateway(1)))),
            // Hairpin masquerade is for Service-redirected connections only: the node's own connection to
            // an endpoint address, and a pod's, keep their source.
            .probe(.nodeFrom(Topology.nodeAddress), Probe(.tcp, Topology.podAddress(1), Topology.backendPort), .reaches([1], source: .client)),
            .probe(.podClient, Probe(.tcp, Topology.podAddress(1), Topology.backendPort), .reaches([1], source: .client)),
        ]),
        // REJECT, not DROP: clients fail at once rather than time out, on every frontend of the Service.
        Scenario("TestNoEndpointsReject / TestExternalIPsReject: no endpoints refuses on every frontend", upstream: bothTests, pods: 1, [
            .apply(CW.snapshot([(CW.service(nodePort: CW.nodePort, externalIPs: [CW.externalIP], loadBalancerIPs: [CW.loadBalancerIP]), [])])),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port), .refused),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort), .refused),
            .probe(.externalClient, Probe(.tcp, CW.externalIP, CW.port), .refused),
            .probe(.externalClient, Probe(.tcp, CW.loadBalancerIP, CW.port), .refused),
            .probe(.node, Probe(.tcp, CW.clusterIP, CW.port), .refused),
        ]),
        Scenario("Session affinity (ClientIP) holds through ClusterIP and NodePort, local and remote endpoints", upstream: bothTests,
                 pods: 2, remotePods: [2], [
            .apply(CW.snapshot([(CW.service(nodePort: CW.nodePort, affinity: .clientIP(timeoutSeconds: 300)), [CW.local(1), CW.remote(2)])])),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 4), .sticks(to: [1, 2], source: .client)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 4), .sticks(to: [1, 2], source: .masqueraded)),
        ]),
    ]

    static let external: [Scenario] = [
        // Source ranges guard the LB IP only: the NodePort of the same Service stays open to all; the node
        // (inside the range) is let in; pods outside the range are not.
        Scenario("TestLoadBalancer: source ranges on the LB IP, NodePort bypasses them", upstream: bothTests,
                 pods: 2, remotePods: [2], [
            .apply(CW.snapshot([(CW.service(nodePort: CW.nodePort, loadBalancerIPs: [CW.loadBalancerIP], sourceRanges: [CW.allowedRange]),
                                 [CW.local(1), CW.remote(2)])])),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 2), .reaches([1, 2], evenly: true, source: .client)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 2), .reaches([1, 2], source: .masqueraded)),
            .probe(.blockedClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 2), .reaches([1, 2], source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, CW.loadBalancerIP, CW.port, count: 2), .reaches([1, 2], evenly: true, source: .masqueraded)),
            .probe(.blockedClient, Probe(.tcp, CW.loadBalancerIP, CW.port, timeoutSeconds: 1), .unanswered),
            .probe(.podClient, Probe(.tcp, CW.loadBalancerIP, CW.port, timeoutSeconds: 1), .unanswered),
            .probe(.node, Probe(.tcp, CW.loadBalancerIP, CW.port, count: 2), .reaches([1, 2], source: .masqueraded)),
        ]),
        // iptables mode writes the source-range firewall only while there are endpoints (its
        // `usesFWChain` needs them): without, everyone gets the no-endpoints REJECT.
        Scenario("TestLoadBalancer: without endpoints every source is refused (iptables)", upstream: iptablesTest, pods: 1,
                 backends: [.iptables], [
            .apply(CW.snapshot([(CW.service(loadBalancerIPs: [CW.loadBalancerIP], sourceRanges: [CW.allowedRange]), [])])),
            .probe(.externalClient, Probe(.tcp, CW.loadBalancerIP, CW.port), .refused),
            .probe(.blockedClient, Probe(.tcp, CW.loadBalancerIP, CW.port), .refused),
        ]),
        // nftables mode checks source ranges before the no-endpoints REJECT: a blocked source learns nothing.
        Scenario("TestLoadBalancer: source ranges hold while the Service has no endpoints (nftables)", upstream: nftablesTest, pods: 1,
                 backends: [.nftables], [
            .apply(CW.snapshot([(CW.service(loadBalancerIPs: [CW.loadBalancerIP], sourceRanges: [CW.allowedRange]), [])])),
            .probe(.externalClient, Probe(.tcp, CW.loadBalancerIP, CW.port), .refused),
            .probe(.blockedClient, Probe(.tcp, CW.loadBalancerIP, CW.port, timeoutSeconds: 1), .unanswered),
        ]),
        // An `ipMode: Proxy` ingress IP is the load balancer's own address: the source leaves it out of the
        // model, so the node must not capture it; the same IP as a VIP is captured.
        Scenario("TestLoadBalancerIngressRouteTypeProxy: an ipMode Proxy LB IP is not intercepted", upstream: bothTests, pods: 1, [
            .apply(CW.snapshot([(CW.service(), [CW.local(1)])])),
            .probe(.podClient, Probe(.tcp, Topology.outsideAddress, CW.port), .notIntercepted),
            .probe(.node, Probe(.tcp, Topology.outsideAddress, CW.port), .notIntercepted),
            .apply(CW.snapshot([(CW.service(loadBalancerIPs: [Topology.outsideAddress]), [CW.local(1)])])),
            // An LB IP is an external destination: masqueraded even from a pod, as for a NodePort.
            .probe(.podClient, Probe(.tcp, Topology.outsideAddress, CW.port), .reaches([1], source: .masqueraded)),
            .probe(.node, Probe(.tcp, Topology.outsideAddress, CW.port), .reaches([1])),
        ]),
    ]

    static let policies: [Scenario] = [
        // External traffic goes to local endpoints only and keeps its source; pods and the node
        // short-circuit to all endpoints (the node masqueraded), given a cluster CIDR to tell pods apart.
        Scenario("TestOnlyLocalNodePorts / TestOnlyLocalExternalIPs: externalTrafficPolicy Local", upstream: bothTests,
                 pods: 2, remotePods: [2], [
            .apply(CW.snapshot([(CW.service(nodePort: CW.nodePort, externalIPs: [CW.externalIP], externalPolicy: .local),
                                 [CW.local(1), CW.remote(2)])])),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 3), .reaches([1], source: .client)),
            .probe(.externalClient, Probe(.tcp, CW.externalIP, CW.port, count: 3), .reaches([1], source: .client)),
            .probe(.podClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 4), .reaches([1, 2], evenly: true, source: .client)),
            .probe(.podClient, Probe(.tcp, CW.externalIP, CW.port, count: 4), .reaches([1, 2], evenly: true, source: .client)),
            .probe(.node, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 4), .reaches([1, 2], evenly: true, source: .masqueraded)),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 4), .reaches([1, 2], evenly: true, source: .client)),
            // No local endpoint: external traffic is dropped (not rejected), cluster traffic still served.
            .apply(CW.snapshot([(CW.service(nodePort: CW.nodePort, externalIPs: [CW.externalIP], externalPolicy: .local), [CW.remote(2)])])),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, timeoutSeconds: 1), .unanswered),
            .probe(.externalClient, Probe(.tcp, CW.externalIP, CW.port, timeoutSeconds: 1), .unanswered),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 2), .reaches([2], source: .client)),
        ]),
        // Without a local-traffic detector a pod cannot be told from an outside client: it too gets
        // local endpoints only, with its source kept.
        Scenario("TestOnlyLocalNodePortsNoClusterCIDR: externalTrafficPolicy Local without a cluster CIDR", upstream: bothTests,
                 pods: 2, remotePods: [2], config: ScenarioConfig(clusterCIDRs: []), [
            .apply(CW.snapshot([(CW.service(nodePort: CW.nodePort, externalPolicy: .local), [CW.local(1), CW.remote(2)])])),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 3), .reaches([1], source: .client)),
            .probe(.podClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 3), .reaches([1], source: .client)),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 4), .reaches([1, 2], evenly: true, source: .client)),
        ]),
        Scenario("TestInternalTrafficPolicy: internalTrafficPolicy Local uses local endpoints, drops without them", upstream: bothTests,
                 pods: 2, remotePods: [2], [
            .apply(CW.snapshot([(CW.service(internalPolicy: .local), [CW.local(1), CW.remote(2)])])),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 4), .reaches([1], source: .client)),
            .probe(.node, Probe(.tcp, CW.clusterIP, CW.port, count: 2), .reaches([1])),
            .apply(CW.snapshot([(CW.service(internalPolicy: .local), [CW.remote(2)])])),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, timeoutSeconds: 1), .unanswered),
        ]),
        // Local policy falls back to local serving-terminating endpoints (a draining node keeps
        // answering its LB's health-checked traffic) and drops once none serves.
        Scenario("TestTerminatingEndpointsTrafficPolicyLocal: local serving-terminating endpoints as a fallback", upstream: bothTests,
                 pods: 3, remotePods: [3], [
            .apply(CW.snapshot([(CW.service(nodePort: CW.nodePort, externalPolicy: .local),
                                 [CW.local(1), CW.local(2).terminating(serving: true), CW.remote(3)])])),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 3), .reaches([1], source: .client)),
            .apply(CW.snapshot([(CW.service(nodePort: CW.nodePort, externalPolicy: .local),
                                 [CW.local(1).terminating(serving: false), CW.local(2).terminating(serving: true), CW.remote(3)])])),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 3), .reaches([2], source: .client)),
            .apply(CW.snapshot([(CW.service(nodePort: CW.nodePort, externalPolicy: .local),
                                 [CW.local(1).terminating(serving: false), CW.local(2).terminating(serving: false), CW.remote(3)])])),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, timeoutSeconds: 1), .unanswered),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 2), .reaches([3])),
        ]),
        // Cluster policy: ready endpoints first; serving-terminating ones only when none is ready; none
        // serving at all is "no endpoints" (REJECT).
        Scenario("TestTerminatingEndpointsTrafficPolicyCluster: serving-terminating endpoints only when none is ready", upstream: bothTests,
                 pods: 3, remotePods: [3], [
            .apply(CW.snapshot([(CW.service(nodePort: CW.nodePort), [CW.local(1), CW.local(2).terminating(serving: true),
                                                                      CW.remote(3).terminating(serving: true)])])),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 3), .reaches([1], source: .client)),
            .apply(CW.snapshot([(CW.service(nodePort: CW.nodePort), [CW.local(1).terminating(serving: false),
                                                                      CW.local(2).terminating(serving: true),
                                                                      CW.remote(3).terminating(serving: true)])])),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 4), .reaches([2, 3], evenly: true, source: .client)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 2), .reaches([2, 3], source: .masqueraded)),
            .apply(CW.snapshot([(CW.service(nodePort: CW.nodePort), [CW.local(1).terminating(serving: false),
                                                                      CW.remote(3).terminating(serving: false)])])),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port), .refused),
        ]),
    ]

    /// TestInternalExternalMasquerade's Services: eTP Cluster and eTP Local, one local and one remote endpoint.
    static func masqueradeServices() -> ProxySnapshot {
        CW.snapshot([(CW.service(nodePort: CW.nodePort), [CW.local(1), CW.remote(2)]),
                     (CW.service("local", clusterIP: CW.hairpinClusterIP, nodePort: CW.nodePort + 1, externalPolicy: .local),
                      [CW.local(1), CW.remote(2)]),
                     (CW.service("remote", clusterIP: CW.remoteOnlyClusterIP, nodePort: CW.nodePort + 2), [CW.remote(2)])])
    }

    static let masquerade: [Scenario] = [
        // External destinations (NodePorts) of a Cluster-policy Service are masqueraded whoever sends;
        // ClusterIPs only from outside the cluster CIDR; Local policy keeps an outside client's source.
        Scenario("TestInternalExternalMasquerade: with a cluster CIDR", upstream: bothTests, pods: 2, remotePods: [2], [
            .apply(masqueradeServices()),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 2), .reaches([1, 2], source: .client)),
            .probe(.podClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 2), .reaches([1, 2], source: .masqueraded)),
            .probe(.podClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort + 1, count: 2), .reaches([1, 2], source: .client)),
            .probe(.node, Probe(.tcp, CW.clusterIP, CW.port, count: 2), .reaches([1, 2], source: .masqueraded)),
            .probe(.node, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 2), .reaches([1, 2], source: .masqueraded)),
            .probe(.node, Probe(.tcp, Topology.nodeAddress, CW.nodePort + 1, count: 2), .reaches([1, 2], source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, CW.clusterIP, CW.port, count: 2), .reaches([1, 2], source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 2), .reaches([1, 2], source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort + 1, count: 2), .reaches([1], source: .client)),
            // Masquerade picks the node's address on the way out: towards node 2, its address on that link.
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort + 2, count: 2),
                   .reaches([2], source: .address(Topology.nodeInterNodeAddress))),
        ]),
        // No detector: ClusterIP traffic is never masqueraded (kube-proxy cannot tell who is outside);
        // NodePorts of Cluster policy still are.
        Scenario("TestInternalExternalMasquerade: without a cluster CIDR", upstream: bothTests, pods: 2, remotePods: [2],
                 config: ScenarioConfig(clusterCIDRs: []), [
            .apply(masqueradeServices()),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 2), .reaches([1, 2], source: .client)),
            .probe(.node, Probe(.tcp, CW.clusterIP, CW.port, count: 2), .reaches([1, 2], source: .client)),
            .probe(.externalClient, Probe(.tcp, CW.clusterIP, CW.port, count: 2), .reaches([1, 2], source: .client)),
            .probe(.podClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 2), .reaches([1, 2], source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 2), .reaches([1, 2], source: .masqueraded)),
            .probe(.podClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort + 1, count: 2), .reaches([1], source: .client)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort + 1, count: 2), .reaches([1], source: .client)),
        ]),
        // masqueradeAll: every ClusterIP connection is masqueraded, pods' too; Local policy still keeps
        // an outside client's source.
        Scenario("TestInternalExternalMasquerade: masqueradeAll", upstream: bothTests, pods: 2, remotePods: [2],
                 config: ScenarioConfig(masqueradeAll: true), [
            .apply(masqueradeServices()),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 2), .reaches([1, 2], source: .masqueraded)),
            .probe(.podClient, Probe(.tcp, CW.hairpinClusterIP, CW.port, count: 2), .reaches([1, 2], source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 2), .reaches([1, 2], source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort + 1, count: 2), .reaches([1], source: .client)),
        ]),
    ]

    static func nodePortOnly(_ pods: [Int] = [1], node: NodeInfo = CW.node) -> ProxySnapshot {
        ScenarioWorld.snapshot([(CW.service(nodePort: CW.nodePort), pods.map(CW.local))], node: node)
    }

    /// The node after an update that names its second address first (its InternalIP changed).
    static let renumberedNode = NodeInfo(name: CW.node.name, addresses: [Topology.nodeSecondAddress, Topology.nodeAddress],
                                         labels: CW.node.labels)

    static let addresses: [Scenario] = [
        // iptables mode: unset nodePortAddresses means every local address.
        Scenario("TestNodePorts: nodePortAddresses unset serves every node address (iptables)", upstream: iptablesTest, pods: 1,
                 backends: [.iptables], [
            .apply(nodePortOnly()),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort), .reaches([1], source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeSecondAddress, CW.nodePort), .reaches([1], source: .masqueraded)),
        ]),
        // nftables mode: unset means `primary`, the node's primary address only; another node address
        // reaches the node's own stack, which refuses.
        Scenario("TestNodePorts: nodePortAddresses unset serves the primary address only (nftables)", upstream: nftablesTest, pods: 1,
                 backends: [.nftables], [
            .apply(nodePortOnly()),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort), .reaches([1], source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeSecondAddress, CW.nodePort), .refused),
        ]),
        // `primary` asked for outright: upstream allows it in every mode (iptables: never on 127.0.0.1).
        Scenario("TestNodePorts: nodePortAddresses primary serves the primary address only", upstream: bothTests, pods: 1,
                 config: ScenarioConfig(nodePortAddressesPrimary: true), [
            .apply(nodePortOnly()),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort), .reaches([1], source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeSecondAddress, CW.nodePort), .refused),
            .probe(.node, Probe(.tcp, IPAddress("127.0.0.1")!, CW.nodePort), .refused),
        ]),
        // The primary address follows the Node without a restart (upstream's kube-proxy exits when the
        // Node's IPs change and picks the new one up as it starts again).
        Scenario("TestNodePorts: the primary address follows a Node update (nftables)", upstream: nftablesTest, pods: 1,
                 backends: [.nftables], [
            .apply(nodePortOnly()),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort), .reaches([1], source: .masqueraded)),
            .apply(nodePortOnly(node: renumberedNode)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeSecondAddress, CW.nodePort), .reaches([1], source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort), .refused),
        ]),
        Scenario("TestNodePorts: nodePortAddresses limits NodePorts to the addresses in it", upstream: bothTests, pods: 1,
                 config: ScenarioConfig(nodePortAddresses: [CIDR("192.168.55.0/24")!]), [
            .apply(nodePortOnly()),
            .probe(.externalClient, Probe(.tcp, Topology.nodeSecondAddress, CW.nodePort), .reaches([1], source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort), .refused),
        ]),
        // Only an IPv6 CIDR given: IPv4 NodePorts fall back to every IPv4 address.
        Scenario("TestNodePorts: nodePortAddresses with no CIDR of a family serves all of that family", upstream: bothTests, pods: 1,
                 config: ScenarioConfig(nodePortAddresses: [CIDR("fd00:10::/64")!]), [
            .apply(nodePortOnly()),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort), .reaches([1], source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeSecondAddress, CW.nodePort), .reaches([1], source: .masqueraded)),
        ]),
        // iptables mode's default localhostNodePorts: the node reaches a NodePort on 127.0.0.1
        // (route_localnet), masqueraded so the reply can come back.
        Scenario("TestNodePorts: localhost NodePorts (iptables)", upstream: iptablesTest, pods: 1, backends: [.iptables], [
            .apply(nodePortOnly()),
            .probe(.node, Probe(.tcp, IPAddress("127.0.0.1")!, CW.nodePort, count: 2), .reaches([1], source: .masqueraded)),
        ]),
        // nftables mode has no localhost NodePorts: the node's own stack answers 127.0.0.1.
        Scenario("TestNodePorts: no localhost NodePorts (nftables)", upstream: nftablesTest, pods: 1, backends: [.nftables], [
            .apply(nodePortOnly()),
            .probe(.node, Probe(.tcp, IPAddress("127.0.0.1")!, CW.nodePort), .refused),
        ]),
        // An address in the Service CIDR that no Service has, and a port a ClusterIP does not serve:
        // iptables mode leaves both alone (routed on, here to a host that does not answer for the ClusterIP) ...
        Scenario("TestOverallIPTablesRules: unallocated ClusterIPs and ports are not intercepted (iptables)", upstream: iptablesTest,
                 pods: 1, config: ScenarioConfig(serviceCIDRs: [CIDR("172.30.0.0/16")!]), backends: [.iptables], [
            .apply(nodePortOnly()),
            .probe(.podClient, Probe(.tcp, Topology.unallocatedClusterIP, CW.port), .notIntercepted),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port + 1, timeoutSeconds: 1), .unanswered),
        ]),
        // ... nftables mode drops the unallocated address and rejects the unserved port.
        Scenario("TestOverallNFTablesRules: unallocated ClusterIPs dropped, unserved ports rejected (nftables)", upstream: nftablesTest,
                 pods: 1, config: ScenarioConfig(serviceCIDRs: [CIDR("172.30.0.0/16")!]), backends: [.nftables], [
            .apply(nodePortOnly()),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port + 1), .refused),
            .probe(.podClient, Probe(.tcp, Topology.unallocatedClusterIP, CW.port, timeoutSeconds: 1), .unanswered),
        ]),
        // Upstream feeds addresses it cannot use (another family, a bad string) and expects the rest of
        // the Service served. Our model holds parsed addresses, so the shape left is the other family.
        Scenario("TestBadIPs: addresses of the other family are skipped, the rest served", upstream: bothTests, pods: 1, [
            .apply(CW.snapshot([(CW.service(nodePort: CW.nodePort, externalIPs: [IPAddress("2001:db8::10")!, CW.externalIP],
                                            loadBalancerIPs: [IPAddress("2001:db8::20")!, CW.loadBalancerIP],
                                            sourceRanges: [CIDR("2001:db8::/32")!, CW.allowedRange]), [CW.local(1)])])),
            .probe(.externalClient, Probe(.tcp, CW.externalIP, CW.port), .reaches([1])),
            .probe(.externalClient, Probe(.tcp, CW.loadBalancerIP, CW.port), .reaches([1])),
            .probe(.blockedClient, Probe(.tcp, CW.loadBalancerIP, CW.port, timeoutSeconds: 1), .unanswered),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port), .reaches([1])),
        ]),
    ]

    static let topology: [Scenario] = [
        // Hints are used only when every endpoint has them and some name our zone.
        Scenario("TestCategorizeEndpoints: topology hints", upstream: topologyTest, pods: 3, remotePods: [3], [
            .apply(CW.snapshot([(CW.service(), [CW.local(1).hinted([CW.zone]), CW.local(2).hinted(["zone-b"]),
                                                CW.remote(3).hinted([CW.zone])])])),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 4), .reaches([1, 3], evenly: true)),
            // One endpoint without hints: hints ignored.
            .apply(CW.snapshot([(CW.service(), [CW.local(1).hinted([CW.zone]), CW.local(2), CW.remote(3).hinted([CW.zone])])])),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 6), .reaches([1, 2, 3], evenly: true)),
            // No endpoint for our zone: hints ignored.
            .apply(CW.snapshot([(CW.service(), [CW.local(1).hinted(["zone-b"]), CW.local(2).hinted(["zone-b"]),
                                                CW.remote(3).hinted(["zone-c"])])])),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 6), .reaches([1, 2, 3], evenly: true)),
        ]),
        // Local policies override hints: the local endpoint is used though hinted elsewhere.
        Scenario("TestCategorizeEndpoints: traffic policy Local ignores topology hints", upstream: topologyTest, pods: 2, remotePods: [2], [
            .apply(CW.snapshot([(CW.service(nodePort: CW.nodePort, externalPolicy: .local), [CW.local(1).hinted(["zone-b"]), CW.remote(2).hinted([CW.zone])])])),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, CW.nodePort, count: 2), .reaches([1], source: .client)),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 2), .reaches([2])),
            .apply(CW.snapshot([(CW.service(internalPolicy: .local), [CW.local(1).hinted(["zone-b"]), CW.remote(2).hinted([CW.zone])])])),
            .probe(.podClient, Probe(.tcp, CW.clusterIP, CW.port, count: 2), .reaches([1])),
        ]),
    ]
}
