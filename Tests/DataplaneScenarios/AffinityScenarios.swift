import ProxyModel

/// ClientIP session affinity with real packets (issue #10 step 2): it holds on every frontend kind,
/// across syncs that change the endpoint count, runs out after `timeoutSeconds` of idleness, and a
/// client whose endpoint went away is sent to another one and then sticks to that.
/// Round-robin (nftables) and random (iptables `statistic`) picks both meet these expectations.
extension Scenario {
    public static let affinity: [Scenario] = [
        Scenario("ClientIP affinity sticks on ClusterIP, NodePort, ExternalIP and LB IP, and with external policy Local", pods: 3, [
            .apply(W.snapshot([
                (W.service(nodePort: W.nodePort, externalIPs: [W.externalIP], loadBalancerIPs: [W.loadBalancerIP],
                           affinity: .clientIP(timeoutSeconds: 300)), W.endpoints([1, 2, 3])),
            ])),
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort, count: 4), .sticks(to: [1, 2, 3], source: .client)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, W.nodePort, count: 4), .sticks(to: [1, 2, 3], source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, W.externalIP, W.servicePort, count: 4), .sticks(to: [1, 2, 3], source: .masqueraded)),
            .probe(.externalClient, Probe(.tcp, W.loadBalancerIP, W.servicePort, count: 4), .sticks(to: [1, 2, 3], source: .masqueraded)),
            .apply(W.snapshot([
                (W.service(nodePort: W.nodePort, externalIPs: [W.externalIP], affinity: .clientIP(timeoutSeconds: 300), externalPolicy: .local),
                 W.endpoints([1, 2, 3], local: [1, 2])),
            ])),
            // From outside: local endpoints only, the client's source kept.
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, W.nodePort, count: 4), .sticks(to: [1, 2], source: .client)),
            .probe(.externalClient, Probe(.tcp, W.externalIP, W.servicePort, count: 4), .sticks(to: [1, 2], source: .client)),
            // A pod reaching the NodePort short-circuits to every endpoint, with affinity too.
            .probe(.podClient, Probe(.tcp, Topology.nodeAddress, W.nodePort, count: 4), .sticks(to: [1, 2, 3], source: .client)),
        ]),
        Scenario("ClientIP affinity outlives syncs and runs out after timeoutSeconds idle", pods: 2, [
            .apply(W.snapshot([(W.service(affinity: .clientIP(timeoutSeconds: 1)), W.endpoints([1]))])),
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort), .reaches([1], source: .client)),
            // A second endpoint: the client, back within the timeout, stays with the first.
            .apply(W.snapshot([(W.service(affinity: .clientIP(timeoutSeconds: 1)), W.endpoints([1, 2]))])),
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort, count: 3), .sticks(to: [1], source: .client)),
            // Idle for longer than the timeout, it is free to land on the other one.
            .probeUntil(.podClient, Probe(.tcp, W.clusterIP, W.servicePort), .reaches([2], source: .client), pauseSeconds: 1.5, attempts: 12),
        ]),
        Scenario("ClientIP affinity: a client whose endpoint is removed goes to another and sticks there", pods: 3, [
            .apply(W.snapshot([(W.service(nodePort: W.nodePort, affinity: .clientIP(timeoutSeconds: 300)), W.endpoints([1]))])),
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort), .reaches([1], source: .client)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, W.nodePort), .reaches([1], source: .masqueraded)),
            .apply(W.snapshot([(W.service(nodePort: W.nodePort, affinity: .clientIP(timeoutSeconds: 300)), W.endpoints([1, 2, 3]))])),
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort, count: 3), .sticks(to: [1], source: .client)),
            .apply(W.snapshot([(W.service(nodePort: W.nodePort, affinity: .clientIP(timeoutSeconds: 300)), W.endpoints([2, 3]))])),
            // Served at once: the sync took the client's entry for pod 1 away, so no first SYN is
            // dropped (a client timeout under TCP's 1 s SYN retransmission would see that).
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort, count: 4, timeoutSeconds: 0.8), .sticks(to: [2, 3], source: .client)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, W.nodePort, count: 4, timeoutSeconds: 0.8), .sticks(to: [2, 3], source: .masqueraded)),
            // The removed endpoint back: the client stays where it went.
            .apply(W.snapshot([(W.service(nodePort: W.nodePort, affinity: .clientIP(timeoutSeconds: 300)), W.endpoints([1, 2, 3]))])),
            .probe(.podClient, Probe(.tcp, W.clusterIP, W.servicePort, count: 3), .sticks(to: [2, 3], source: .client)),
        ]),
    ]
}
