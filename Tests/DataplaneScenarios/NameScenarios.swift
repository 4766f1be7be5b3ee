import ProxyModel

/// Names the API allows at their longest, and names only a file manifest lets through (quotes,
/// line breaks, text that reads like a rule, non-ASCII): every Service is served, none breaks
/// another's rules (issue 12).
public enum NameWorld {
    /// A namespace and a name of 63 characters (DNS labels) and a port name of 15 (IANA_SVC_NAME).
    public static let longName = ServicePortName(
        service: NamespacedName(namespace: padded("tenant-with-a-namespace-at-the-limit-", 63),
                                name: padded("service-with-a-name-at-the-limit-of-the-api-", 63)),
        port: padded("port-at-limit", 15), protocol: .tcp)
    /// What a YAML manifest can hold: a quote and a newline that would end a restore line, then an
    /// "injected" rule, and non-ASCII around where the comments are cut.
    public static let hostileName = ServicePortName(
        service: NamespacedName(namespace: "ünïcødé-👩🏽‍💻-" + String(repeating: "ß", count: 60),
                                name: "x\" -j ACCEPT\n-A KUBE-SERVICES -j ACCEPT\n#"),
        port: "p\\\"", protocol: .tcp)
    public static let ordinaryName = ServicePortName(service: NamespacedName(namespace: "scenario", name: "plain"), port: "", protocol: .tcp)

    public static let longClusterIP = IPAddress("172.30.0.10")!
    public static let hostileClusterIP = IPAddress("172.30.0.12")!
    public static let ordinaryClusterIP = IPAddress("172.30.0.11")!
    public static let longNodePort = 30080
    public static let ordinaryNodePort = 30081

    static func padded(_ text: String, _ length: Int) -> String {
        text + String(repeating: "x", count: length - text.count)
    }

    public static func service(_ name: ServicePortName, _ clusterIP: IPAddress, nodePort: Int = 0,
                               externalPolicy: TrafficPolicy = .cluster) -> ServicePort {
        ServicePort(name: name, clusterIPs: [clusterIP], port: ScenarioWorld.servicePort, targetPort: .number(Topology.backendPort),
                    nodePort: nodePort, externalTrafficPolicy: externalPolicy)
    }
}

extension Scenario {
    typealias NW = NameWorld

    /// Kept apart from `standard` so scenarios for other issues can be appended there independently.
    public static let namesAtLimits: [Scenario] = [
        Scenario("Names at the API's limits with externalTrafficPolicy Local are served beside an ordinary Service", pods: 3, [
            .apply(W.snapshot([
                (NW.service(NW.longName, NW.longClusterIP, nodePort: NW.longNodePort, externalPolicy: .local), W.endpoints([1, 2], local: [1])),
                (NW.service(NW.ordinaryName, NW.ordinaryClusterIP, nodePort: NW.ordinaryNodePort), W.endpoints([3])),
            ])),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, NW.longNodePort, count: 2), .reaches([1], source: .client)),
            .probe(.podClient, Probe(.tcp, NW.longClusterIP, W.servicePort, count: 4), .reaches([1, 2], evenly: true, source: .client)),
            .probe(.podClient, Probe(.tcp, NW.ordinaryClusterIP, W.servicePort, count: 2), .reaches([3], source: .client)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, NW.ordinaryNodePort, count: 2), .reaches([3], source: .masqueraded)),
            // An incremental sync of the long-named Service (its local endpoint moves) works too.
            .apply(W.snapshot([
                (NW.service(NW.longName, NW.longClusterIP, nodePort: NW.longNodePort, externalPolicy: .local), W.endpoints([1, 2], local: [2])),
                (NW.service(NW.ordinaryName, NW.ordinaryClusterIP, nodePort: NW.ordinaryNodePort), W.endpoints([3])),
            ])),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, NW.longNodePort, count: 2), .reaches([2], source: .client)),
            .probe(.podClient, Probe(.tcp, NW.ordinaryClusterIP, W.servicePort), .reaches([3])),
        ]),
        Scenario("A hostile, non-ASCII Service name stays a comment: both Services are served, nothing else accepted", pods: 2, [
            .apply(W.snapshot([
                (NW.service(NW.hostileName, NW.hostileClusterIP, nodePort: NW.longNodePort, externalPolicy: .local), W.endpoints([1])),
                (NW.service(NW.ordinaryName, NW.ordinaryClusterIP), W.endpoints([2])),
            ])),
            .probe(.podClient, Probe(.tcp, NW.hostileClusterIP, W.servicePort, count: 2), .reaches([1], source: .client)),
            .probe(.externalClient, Probe(.tcp, Topology.nodeAddress, NW.longNodePort), .reaches([1], source: .client)),
            .probe(.podClient, Probe(.tcp, NW.ordinaryClusterIP, W.servicePort), .reaches([2])),
            // Removing it deletes its rules by their text (iptables `-D`), comment and all.
            .apply(W.snapshot([(NW.service(NW.ordinaryName, NW.ordinaryClusterIP), W.endpoints([2]))])),
            .probe(.podClient, Probe(.tcp, NW.hostileClusterIP, W.servicePort, timeoutSeconds: 1), .unanswered),
            .probe(.podClient, Probe(.tcp, NW.ordinaryClusterIP, W.servicePort), .reaches([2])),
        ]),
    ]
}
