import ProxyModel
import Testing

/// kube-proxy's CategorizeEndpoints cases, one behaviour each.
@Suite struct EndpointSelectionTests {
    let node = Fixture.node

    @Test func clusterPolicyUsesEveryReadyEndpoint() {
        let svc = Fixture.service("web")
        let s = EndpointSelection(service: svc, endpoints: [Fixture.endpoint("10.0.0.1"), Fixture.endpoint("10.0.0.2", ready: false)], node: node)
        #expect(s.clusterEndpoints.map(\.description) == ["10.0.0.1:8080"])
        #expect(s.localEndpoints.isEmpty)
        #expect(s.hasAnyEndpoints)
    }

    @Test func fallsBackToServingTerminatingEndpointsWhenNoneIsReady() {
        let svc = Fixture.service("web")
        let eps = [Fixture.endpoint("10.0.0.1", ready: false, serving: true, terminating: true),
                   Fixture.endpoint("10.0.0.2", ready: false, serving: false, terminating: true)]
        let s = EndpointSelection(service: svc, endpoints: eps, node: node)
        #expect(s.clusterEndpoints.map(\.description) == ["10.0.0.1:8080"])
        #expect(s.hasAnyEndpoints)
    }

    @Test func noUsableEndpointMeansRejectNotDrop() {
        let svc = Fixture.service("web", nodePort: 30080, external: .local)
        let s = EndpointSelection(service: svc, endpoints: [Fixture.endpoint("10.0.0.1", ready: false)], node: node)
        #expect(s.clusterEndpoints.isEmpty && s.localEndpoints.isEmpty)
        #expect(!s.hasAnyEndpoints)
    }

    @Test func externalLocalUsesOnlyLocalEndpointsForExternalTraffic() {
        let svc = Fixture.service("web", nodePort: 30080, external: .local)
        let eps = [Fixture.endpoint("10.0.0.1", local: true), Fixture.endpoint("10.0.0.2")]
        let s = EndpointSelection(service: svc, endpoints: eps, node: node)
        #expect(s.externalEndpoints(for: svc).map(\.description) == ["10.0.0.1:8080"])
        // Traffic to the ClusterIP still goes anywhere (policy Cluster).
        #expect(s.internalEndpoints(for: svc).count == 2)
        #expect(s.allReachableEndpoints.count == 2)
    }

    @Test func externalLocalWithoutLocalEndpointsDropsButHasEndpoints() {
        let svc = Fixture.service("web", nodePort: 30080, external: .local)
        let s = EndpointSelection(service: svc, endpoints: [Fixture.endpoint("10.0.0.2")], node: node)
        #expect(s.externalEndpoints(for: svc).isEmpty)
        #expect(s.hasAnyEndpoints)
    }

    @Test func externalLocalIsIgnoredWithoutExternalAccess() {
        // No NodePort, ExternalIP or LB IP: externalTrafficPolicy does not apply.
        let svc = Fixture.service("web", external: .local)
        #expect(!svc.usesLocalEndpoints)
    }

    @Test func internalLocalFallsBackToLocalTerminatingEndpoints() {
        let svc = Fixture.service("web", internal: .local)
        let eps = [Fixture.endpoint("10.0.0.1", ready: false, serving: true, terminating: true, local: true),
                   Fixture.endpoint("10.0.0.2")]
        let s = EndpointSelection(service: svc, endpoints: eps, node: node)
        #expect(s.internalEndpoints(for: svc).map(\.description) == ["10.0.0.1:8080"])
        #expect(s.clusterEndpoints.isEmpty)   // internal-only Local service uses no cluster endpoints
        #expect(s.allReachableEndpoints.map(\.description) == ["10.0.0.1:8080"])
    }

    @Test func zoneHintsNarrowClusterEndpointsWhenEveryEndpointHasThem() {
        let svc = Fixture.service("web")
        let eps = [Fixture.endpoint("10.0.0.1", zoneHints: ["zone-a"]), Fixture.endpoint("10.0.0.2", zoneHints: ["zone-b"])]
        let s = EndpointSelection(service: svc, endpoints: eps, node: node)
        #expect(s.clusterEndpoints.map(\.description) == ["10.0.0.1:8080"])
    }

    @Test func zoneHintsAreIgnoredWhenOneEndpointLacksThem() {
        let svc = Fixture.service("web")
        let eps = [Fixture.endpoint("10.0.0.1", zoneHints: ["zone-a"]), Fixture.endpoint("10.0.0.2")]
        let s = EndpointSelection(service: svc, endpoints: eps, node: node)
        #expect(s.clusterEndpoints.count == 2)
    }

    @Test func zoneHintsAreIgnoredWhenNoneIsForOurZone() {
        let svc = Fixture.service("web")
        let eps = [Fixture.endpoint("10.0.0.1", zoneHints: ["zone-c"]), Fixture.endpoint("10.0.0.2", zoneHints: ["zone-b"])]
        #expect(EndpointSelection(service: svc, endpoints: eps, node: node).clusterEndpoints.count == 2)
    }

    @Test func nodeHintsPreferThisNode() {
        let svc = Fixture.service("web")
        let eps = [Fixture.endpoint("10.0.0.1", zoneHints: ["zone-a"], nodeHints: ["node-a"]),
                   Fixture.endpoint("10.0.0.2", zoneHints: ["zone-a"], nodeHints: ["node-b"])]
        #expect(EndpointSelection(service: svc, endpoints: eps, node: node).clusterEndpoints.map(\.description) == ["10.0.0.1:8080"])
    }
}
