import ProxyModel
import Testing

@Suite struct ClusterStateTests {
    let web = NamespacedName(namespace: "default", name: "web")

    @Test func joinsSlicesToServicePortsByPortNameAndProtocol() {
        var state = ClusterState(node: Fixture.node)
        state.setService(web, ports: [Fixture.service("web"), Fixture.service("web", port: "dns", .udp)])
        state.setEndpointSlice(Fixture.slice("web-1", service: "web", backends: [Fixture.backend("10.0.0.1")]))
        state.setEndpointSlice(Fixture.slice("web-2", service: "web", port: "dns", number: 53, .udp, backends: [Fixture.backend("10.0.0.2")]))
        let (snapshot, diff) = state.takeSnapshot()
        #expect(snapshot.endpoints[Fixture.name("web")]?.map(\.description) == ["10.0.0.1:8080"])
        #expect(snapshot.endpoints[Fixture.name("web", port: "dns", .udp)]?.map(\.description) == ["10.0.0.2:53"])
        #expect(diff.added == [Fixture.name("web"), Fixture.name("web", port: "dns", .udp)])
    }

    @Test func endpointsWithDifferentNumbersForOnePortNameAllTakePart() {
        // Pods exposing a named targetPort on different numbers land in different slices.
        var state = ClusterState(node: Fixture.node)
        state.setService(web, ports: [Fixture.service("web")])
        state.setEndpointSlice(Fixture.slice("web-a", service: "web", number: 8080, backends: [Fixture.backend("10.0.0.1")]))
        state.setEndpointSlice(Fixture.slice("web-b", service: "web", number: 9090, backends: [Fixture.backend("10.0.0.2")]))
        let (snapshot, _) = state.takeSnapshot()
        #expect(snapshot.endpoints[Fixture.name("web")]?.map(\.description) == ["10.0.0.1:8080", "10.0.0.2:9090"])
    }

    /// As kube-proxy: of two copies of one address, the non-terminating one (a new pod that reuses
    /// the IP of a terminating one) wins, whichever slice comes first.
    @Test func duplicateEndpointAcrossSlicesKeepsTheNonTerminatingCopy() {
        let terminating = EndpointSliceInfo.Backend(address: IPAddress("10.0.0.1")!, isReady: false, isServing: true,
                                                    isTerminating: true, nodeName: "old-node")
        let running = Fixture.backend("10.0.0.1", ready: false, node: "new-node")
        for (first, second) in [(terminating, running), (running, terminating)] {
            var state = ClusterState(node: Fixture.node)
            state.setService(web, ports: [Fixture.service("web")])
            state.setEndpointSlice(Fixture.slice("web-a", service: "web", backends: [first]))
            state.setEndpointSlice(Fixture.slice("web-b", service: "web", backends: [second]))
            let (snapshot, _) = state.takeSnapshot()
            #expect(snapshot.endpoints[Fixture.name("web")]?.map(\.nodeName) == ["new-node"])
            #expect(snapshot.endpoints[Fixture.name("web")]?.map(\.isTerminating) == [false])
        }
    }

    @Test func localityComesFromTheNodeName() {
        var state = ClusterState(node: Fixture.node)
        state.setService(web, ports: [Fixture.service("web")])
        state.setEndpointSlice(Fixture.slice("web-a", service: "web", backends: [Fixture.backend("10.0.0.1", node: "node-a"), Fixture.backend("10.0.0.2")]))
        let (snapshot, _) = state.takeSnapshot()
        #expect(snapshot.endpoints[Fixture.name("web")]?.map(\.isLocal) == [true, false])
    }

    @Test func incrementalSnapshotsReportOnlyWhatChanged() {
        var state = ClusterState(node: Fixture.node)
        let api = NamespacedName(namespace: "default", name: "api")
        state.setService(web, ports: [Fixture.service("web")])
        state.setService(api, ports: [Fixture.service("api", clusterIP: "172.30.0.42")])
        state.setEndpointSlice(Fixture.slice("web-1", service: "web", backends: [Fixture.backend("10.0.0.1")]))
        _ = state.takeSnapshot()
        #expect(!state.hasPendingChanges)

        state.setEndpointSlice(Fixture.slice("web-1", service: "web", backends: [Fixture.backend("10.0.0.3")]))
        var (snapshot, diff) = state.takeSnapshot()
        #expect(diff.endpointsChanged == [Fixture.name("web")])
        #expect(diff.added.isEmpty && diff.removed.isEmpty && diff.updated.isEmpty)
        #expect(snapshot.servicePorts.count == 2)

        state.setService(api, ports: nil)
        (snapshot, diff) = state.takeSnapshot()
        #expect(diff.removed == [Fixture.name("api")])
        #expect(snapshot.servicePorts.keys.map(\.service) == [web])

        state.removeEndpointSlice(NamespacedName(namespace: "default", name: "web-1"), service: web)
        (snapshot, diff) = state.takeSnapshot()
        #expect(diff.endpointsChanged == [Fixture.name("web")])
        #expect(snapshot.endpoints[Fixture.name("web")] == nil)
    }

    @Test func sameObjectTwiceIsNoChange() {
        var state = ClusterState(node: Fixture.node)
        state.setService(web, ports: [Fixture.service("web")])
        _ = state.takeSnapshot()
        state.setService(web, ports: [Fixture.service("web")])
        #expect(!state.hasPendingChanges)
    }

    @Test func incrementalAndFullSnapshotsAgree() {
        var incremental = ClusterState(node: Fixture.node)
        for i in 0..<20 {
            let name = NamespacedName(namespace: "default", name: "svc\(i)")
            incremental.setService(name, ports: [Fixture.service("svc\(i)", clusterIP: "172.30.0.\(i + 1)")])
            incremental.setEndpointSlice(Fixture.slice("svc\(i)-1", service: "svc\(i)", backends: [Fixture.backend("10.0.1.\(i + 1)")]))
            if i % 3 == 0 { _ = incremental.takeSnapshot() }
        }
        incremental.setService(NamespacedName(namespace: "default", name: "svc4"), ports: nil)
        let fromIncremental = incremental.takeSnapshot().snapshot
        // A node change forces a full rebuild: the same content must come out.
        incremental.setNode(NodeInfo(name: "node-a", labels: [NodeInfo.zoneLabel: "zone-a", "x": "y"]))
        let fromFull = incremental.takeSnapshot().snapshot
        #expect(fromFull.servicePorts == fromIncremental.servicePorts)
        #expect(fromFull.endpoints == fromIncremental.endpoints)
        #expect(fromFull.servicePorts.count == 19)
    }
}
