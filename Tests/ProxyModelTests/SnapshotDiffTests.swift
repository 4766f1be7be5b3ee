import ProxyModel
import Testing

@Suite struct SnapshotDiffTests {
    func snapshot(_ services: [ServicePort], _ endpoints: [ServicePortName: [Endpoint]]) -> ProxySnapshot {
        ProxySnapshot(node: Fixture.node, servicePorts: Dictionary(uniqueKeysWithValues: services.map { ($0.name, $0) }), endpoints: endpoints)
    }

    @Test func classifiesAddedRemovedUpdatedAndEndpointChanges() {
        let a = Fixture.service("a"), b = Fixture.service("b"), c = Fixture.service("c")
        var c2 = c
        c2.nodePort = 30000
        let old = snapshot([a, b, c], [a.name: [Fixture.endpoint("10.0.0.1")]])
        let new = snapshot([a, c2, Fixture.service("d")], [a.name: [Fixture.endpoint("10.0.0.2")]])
        let diff = SnapshotDiff(from: old, to: new)
        #expect(diff.removed == [b.name])
        #expect(diff.added == [Fixture.name("d")])
        #expect(diff.updated == [c.name])
        #expect(diff.endpointsChanged == [a.name])
        #expect(SnapshotDiff(from: new, to: new).isEmpty)
    }

    @Test func removedUDPEndpointIsAStaleFlowButTCPIsNot() {
        let dns = Fixture.service("dns", port: "dns", .udp, clusterIP: "172.30.0.10")
        let web = Fixture.service("web")
        let old = snapshot([dns, web], [dns.name: [Fixture.endpoint("10.0.0.1"), Fixture.endpoint("10.0.0.2")],
                                       web.name: [Fixture.endpoint("10.0.0.3")]])
        let new = snapshot([dns, web], [dns.name: [Fixture.endpoint("10.0.0.2")], web.name: []])
        let flows = SnapshotDiff(from: old, to: new).staleFlows(from: old, to: new)
        #expect(flows == [StaleFlow(protocol: .udp, target: .endpoint(dns.name, Fixture.endpoint("10.0.0.1")))])
    }

    @Test func deletedUDPServiceAndOneComingUpClearItsAddress() {
        let dns = Fixture.service("dns", port: "dns", .udp, clusterIP: "172.30.0.10")
        let up = snapshot([dns], [dns.name: [Fixture.endpoint("10.0.0.1")]])
        let down = snapshot([dns], [:])
        let gone = snapshot([], [:])
        let address = StaleFlow(protocol: .udp, target: .serviceAddress(IPAddress("172.30.0.10")!, port: 80))
        #expect(SnapshotDiff(from: down, to: up).staleFlows(from: down, to: up) == [address])
        #expect(SnapshotDiff(from: down, to: gone).staleFlows(from: down, to: gone) == [address])
    }
}
