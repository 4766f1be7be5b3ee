import Conntrack
import ProxyModel
import Testing

/// kube-proxy's reconciler decision (pkg/proxy/conntrack/cleanup.go), one (snapshot, flow) at a time.
@Suite struct StaleFlowPolicyTests {
    static let dns = ServicePortName(service: NamespacedName(namespace: "kube-system", name: "dns"), port: "dns", protocol: .udp)
    static let web = ServicePortName(service: NamespacedName(namespace: "default", name: "web"), port: "http", protocol: .tcp)
    static let empty = ServicePortName(service: NamespacedName(namespace: "default", name: "empty"), port: "u", protocol: .udp)

    /// A UDP Service on 10.96.0.10:53 (+ ExternalIP, LB IP, NodePort 30053, and IPv6) with serving
    /// endpoints 10.244.1.5:5353 (ready), 10.244.1.6:5353 (terminating but serving) and one that is
    /// not serving; a TCP Service; a UDP Service without serving endpoints with NodePort 30054.
    static let snapshot = ProxySnapshot(
        node: NodeInfo(name: "n"),
        servicePorts: [
            dns: ServicePort(name: dns, clusterIPs: [IPAddress("10.96.0.10")!, IPAddress("fd00:96::10")!], port: 53, nodePort: 30053,
                             externalIPs: [IPAddress("203.0.113.7")!], loadBalancerIPs: [IPAddress("198.51.100.9")!],
                             externalTrafficPolicy: .local, internalTrafficPolicy: .local),
            web: ServicePort(name: web, clusterIPs: [IPAddress("10.96.0.80")!], port: 80),
            empty: ServicePort(name: empty, clusterIPs: [IPAddress("10.96.0.11")!], port: 53, nodePort: 30054),
        ],
        endpoints: [
            dns: [
                Endpoint(address: IPAddress("10.244.1.5")!, port: 5353, nodeName: "other", zone: "b"),
                Endpoint(address: IPAddress("10.244.1.6")!, port: 5353, isReady: false, isServing: true, isTerminating: true),
                Endpoint(address: IPAddress("10.244.1.7")!, port: 5353, isReady: false, isServing: false, isTerminating: true),
                Endpoint(address: IPAddress("fd00:244::5")!, port: 5353),
            ],
            web: [Endpoint(address: IPAddress("10.244.2.5")!, port: 8080)],
            empty: [Endpoint(address: IPAddress("10.244.3.5")!, port: 53, isReady: false, isServing: false)],
        ])

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var proto: UInt8 = 17
        var dst: String, dport: UInt16
        var replySrc: String, replySport: UInt16
        var expected: StaleFlowPolicy.Decision
        var testDescription: String { name }

        var flow: ConntrackFlow {
            let client = IPAddress(dst.contains(":") ? "fd00::1" : "10.0.0.1")!
            return ConntrackFlow(
                original: ConntrackTuple(source: client, destination: IPAddress(dst)!, protocol: proto, sourcePort: 40000, destinationPort: dport),
                reply: ConntrackTuple(source: IPAddress(replySrc)!, destination: client, protocol: proto, sourcePort: replySport, destinationPort: 40000))
        }
    }

    static let cases: [Case] = [
        Case(name: "ClusterIP flow to a ready endpoint is kept", dst: "10.96.0.10", dport: 53, replySrc: "10.244.1.5", replySport: 5353, expected: .keep),
        Case(name: "ClusterIP flow to a terminating but serving endpoint is kept", dst: "10.96.0.10", dport: 53, replySrc: "10.244.1.6", replySport: 5353, expected: .keep),
        Case(name: "ClusterIP flow to a non-serving endpoint is deleted", dst: "10.96.0.10", dport: 53, replySrc: "10.244.1.7", replySport: 5353, expected: .delete),
        Case(name: "ClusterIP flow to a gone endpoint is deleted", dst: "10.96.0.10", dport: 53, replySrc: "10.244.1.99", replySport: 5353, expected: .delete),
        Case(name: "ClusterIP flow to a serving IP on another port is deleted", dst: "10.96.0.10", dport: 53, replySrc: "10.244.1.5", replySport: 5354, expected: .delete),
        Case(name: "ClusterIP flow never NATed (before endpoints) is deleted", dst: "10.96.0.10", dport: 53, replySrc: "10.96.0.10", replySport: 53, expected: .delete),
        Case(name: "ClusterIP on another port is not a frontend", dst: "10.96.0.10", dport: 54, replySrc: "10.244.1.99", replySport: 5353, expected: .keep),
        Case(name: "ExternalIP flow to a gone endpoint is deleted", dst: "203.0.113.7", dport: 53, replySrc: "10.244.1.99", replySport: 5353, expected: .delete),
        Case(name: "LoadBalancer IP flow to a gone endpoint is deleted", dst: "198.51.100.9", dport: 53, replySrc: "10.244.1.99", replySport: 5353, expected: .delete),
        Case(name: "LoadBalancer IP flow to a serving endpoint is kept", dst: "198.51.100.9", dport: 53, replySrc: "10.244.1.6", replySport: 5353, expected: .keep),
        Case(name: "NodePort flow on any address to a gone endpoint is deleted", dst: "192.168.7.7", dport: 30053, replySrc: "10.244.1.99", replySport: 5353, expected: .delete),
        Case(name: "NodePort flow from before the Service had endpoints is deleted", dst: "192.0.2.30", dport: 30053, replySrc: "192.0.2.30", replySport: 30053, expected: .delete),
        Case(name: "NodePort flow to a serving endpoint is kept", dst: "192.0.2.30", dport: 30053, replySrc: "10.244.1.5", replySport: 5353, expected: .keep),
        Case(name: "IPv6 ClusterIP flow to a gone endpoint is deleted", dst: "fd00:96::10", dport: 53, replySrc: "fd00:244::9", replySport: 5353, expected: .delete),
        Case(name: "IPv6 ClusterIP flow to its endpoint is kept", dst: "fd00:96::10", dport: 53, replySrc: "fd00:244::5", replySport: 5353, expected: .keep),
        Case(name: "IPv6 flow to an address of no endpoint is deleted", dst: "fd00:96::10", dport: 53, replySrc: "fd00:244::6", replySport: 5353, expected: .delete),
        Case(name: "TCP to a UDP Service's frontend is left alone", proto: 6, dst: "10.96.0.10", dport: 53, replySrc: "10.244.1.99", replySport: 5353, expected: .keep),
        Case(name: "SCTP is left alone", proto: 132, dst: "10.96.0.10", dport: 53, replySrc: "10.244.1.99", replySport: 5353, expected: .keep),
        Case(name: "a TCP Service is not reconciled", proto: 6, dst: "10.96.0.80", dport: 80, replySrc: "10.244.9.9", replySport: 8080, expected: .keep),
        Case(name: "UDP to a TCP Service's address is not a frontend", dst: "10.96.0.80", dport: 80, replySrc: "10.244.9.9", replySport: 8080, expected: .keep),
        Case(name: "a Service without serving endpoints is left alone", dst: "10.96.0.11", dport: 53, replySrc: "10.96.0.11", replySport: 53, expected: .keep),
        Case(name: "its NodePort too", dst: "192.0.2.30", dport: 30054, replySrc: "192.0.2.30", replySport: 30054, expected: .keep),
        Case(name: "a flow to no Service is left alone", dst: "10.0.0.2", dport: 53, replySrc: "10.0.0.2", replySport: 53, expected: .keep),
    ]

    @Test(arguments: cases)
    func decides(_ c: Case) {
        #expect(StaleFlowPolicy.decide(c.flow, snapshot: Self.snapshot) == c.expected)
    }

    @Test func anEmptySnapshotHasNothingToReconcile() {
        #expect(StaleFlowPolicy(snapshot: .empty(node: NodeInfo(name: "n")), family: .ipv4).isEmpty)
        #expect(!StaleFlowPolicy(snapshot: Self.snapshot, family: .ipv4).isEmpty)
        #expect(!StaleFlowPolicy(snapshot: Self.snapshot, family: .ipv6).isEmpty)
    }
}
