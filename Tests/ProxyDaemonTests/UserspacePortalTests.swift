@testable import ProxyDaemon
import ProxyModel
import Testing
import UserspaceProxy

private typealias IPAddress = ProxyModel.IPAddress

/// The userspace mode's portals as pure translation: which listener ports Service ports get and
/// keep, and which rules listen there.
@Suite struct UserspacePortalTests {
    static func name(_ service: String, _ proto: TransportProtocol = .tcp) -> ServicePortName {
        ServicePortName(service: NamespacedName(namespace: "ns", name: service), port: "p", protocol: proto)
    }

    static func portal(_ service: String, _ proto: TransportProtocol = .tcp, _ frontend: PortalFrontend = .clusterIP) -> PortalKey {
        PortalKey(servicePort: name(service, proto), frontend: frontend)
    }

    static func snapshot(_ services: [ServicePort], endpoints: [ServicePortName: [Endpoint]] = [:]) -> ProxySnapshot {
        ProxySnapshot(node: NodeInfo(name: "node-a"), servicePorts: Dictionary(uniqueKeysWithValues: services.map { ($0.name, $0) }),
                      endpoints: endpoints)
    }

    // MARK: ports

    @Test func aPortalKeepsItsPortWhileOthersComeAndGo() {
        var ports = PortalPorts(range: 40000...40009)
        ports.update(wanted: [Self.portal("a"), Self.portal("b")])
        #expect(ports.ports == [Self.portal("a"): 40000, Self.portal("b"): 40001])
        // a goes, c comes: b stays where it was, c takes the next port rather than a's old one.
        ports.update(wanted: [Self.portal("b"), Self.portal("c")])
        #expect(ports.ports == [Self.portal("b"): 40001, Self.portal("c"): 40002])
        ports.update(wanted: [Self.portal("c"), Self.portal("b"), Self.portal("a")])
        #expect(ports.ports[Self.portal("b")] == 40001)
        #expect(ports.ports[Self.portal("c")] == 40002)
        #expect(ports.ports[Self.portal("a")] == 40003)
    }

    @Test func tcpAndUDPHaveTheWholeRangeEach() {
        var ports = PortalPorts(range: 40000...40001)
        ports.update(wanted: [Self.portal("dns", .tcp), Self.portal("dns", .udp), Self.portal("web", .tcp)])
        #expect(ports.ports == [Self.portal("dns", .tcp): 40000, Self.portal("web", .tcp): 40001, Self.portal("dns", .udp): 40000])
    }

    @Test func searchWrapsAroundAndAFullRangeLeavesPortalsWithoutAPort() {
        var ports = PortalPorts(range: 40000...40002)
        ports.update(wanted: ["a", "b", "c"].map { Self.portal($0) })
        ports.update(wanted: ["b", "c", "d", "e"].map { Self.portal($0) })
        // After 40002 the search starts again at the bottom, where a's port is free.
        #expect(ports.ports[Self.portal("d")] == 40000)
        #expect(ports.ports[Self.portal("e")] == nil)
        #expect(ports.ports.count == 3)
    }

    @Test func nodePortsAreNeverHandedOutAndAPortalOnANewNodePortMoves() {
        var ports = PortalPorts(range: 40000...40009)
        ports.update(wanted: [Self.portal("a")], reserved: [.tcp: [40000]])
        #expect(ports.ports[Self.portal("a")] == 40001)
        ports.update(wanted: [Self.portal("a")], reserved: [.tcp: [40001], .udp: [40002]])
        #expect(ports.ports[Self.portal("a")] == 40002)
    }

    @Test func aPortTakenByAnotherProgramIsSkippedFromThenOn() {
        var ports = PortalPorts(range: 40000...40009)
        ports.update(wanted: [Self.portal("a")])
        ports.portIsTaken(for: Self.portal("a"))
        #expect(ports.ports.isEmpty)
        ports.update(wanted: [Self.portal("a")])
        #expect(ports.ports[Self.portal("a")] == 40001)
        ports.update(wanted: [Self.portal("b")])
        #expect(ports.ports[Self.portal("b")] == 40002)
    }

    @Test func portsOnceTakenAreTriedAgainWhenNothingElseIsFree() {
        var ports = PortalPorts(range: 40000...40000)
        ports.update(wanted: [Self.portal("a")])
        ports.portIsTaken(for: Self.portal("a"))
        ports.update(wanted: [Self.portal("a")])
        #expect(ports.ports[Self.portal("a")] == 40000)
    }

    // MARK: rules

    @Test func everyTCPAndUDPServicePortGetsAPortalAndExternalIPsAnotherOne() {
        let snapshot = Self.snapshot([
            ServicePort(name: Self.name("web"), clusterIPs: [IPAddress("172.30.0.1")!], port: 80, externalIPs: [IPAddress("192.0.2.1")!]),
            ServicePort(name: Self.name("dns", .udp), clusterIPs: [IPAddress("172.30.0.2")!], port: 53),
            ServicePort(name: Self.name("sig", .sctp), clusterIPs: [IPAddress("172.30.0.3")!], port: 9),
        ])
        #expect(UserspaceRules.portals(in: snapshot) == [Self.portal("dns", .udp), Self.portal("web"), Self.portal("web", .tcp, .externalIP)])
    }

    /// ClusterIP traffic follows internalTrafficPolicy, ExternalIP traffic externalTrafficPolicy
    /// (as kube-proxy does for ExternalIPs), so the two portals of one Service port differ.
    @Test func portalsListenOnTheWildcardAndForwardByTheirTrafficPolicy() throws {
        let web = Self.name("web")
        let service = ServicePort(name: web, clusterIPs: [IPAddress("172.30.0.1")!, IPAddress("fd00::1")!], port: 80,
                                  externalIPs: [IPAddress("192.0.2.1")!], sessionAffinity: .clientIP(timeoutSeconds: 60),
                                  externalTrafficPolicy: .local)
        let local = Endpoint(address: IPAddress("10.0.1.2")!, port: 8080, isLocal: true)
        let remote = Endpoint(address: IPAddress("10.0.2.2")!, port: 8080)
        let snapshot = Self.snapshot([service], endpoints: [web: [local, remote]])
        let rules = UserspaceRules.portalRules(for: snapshot, ports: [Self.portal("web"): 40000, Self.portal("web", .tcp, .externalIP): 40001])
        #expect(rules.map(\.name) == ["ns/web:p clusterIP", "ns/web:p externalIP"])
        #expect(rules[0].listenAddresses.map(\.description) == ["0.0.0.0:40000", "[::]:40000"])
        #expect(rules[0].backends.map(\.description) == ["10.0.1.2:8080", "10.0.2.2:8080"])
        #expect(rules[0].affinityTimeout == .seconds(60))
        #expect(rules[1].listenAddresses.map(\.description) == ["0.0.0.0:40001"])
        #expect(rules[1].backends.map(\.description) == ["10.0.1.2:8080"])
        #expect(rules.map { UserspaceRules.servicePortLabel(ofRule: $0.name) } == ["ns/web:p", "ns/web:p"])
        #expect(UserspaceRules.servicePortLabel(ofRule: UserspaceRules.ruleName(web, nil)) == "ns/web:p")
    }
}
