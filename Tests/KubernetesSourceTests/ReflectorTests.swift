import Foundation
import KubernetesAPI
@testable import KubernetesSource
import ProxyModel
import Testing

/// The source against an in-process API server: what it lists and watches ends up in the store's
/// snapshots, through every failure the protocol has.
@Suite(.serialized) struct ReflectorTests {
    func serverWithWeb() async throws -> FakeAPIServer {
        let server = try await FakeAPIServer()
        server.put(Collections.services, Fixture.data("service-web.json"))
        server.put(Collections.services, Fixture.data("service-dns-udp.json"))
        server.put(Collections.slices, Fixture.data("endpointslice-web.json"))
        server.put(Collections.nodes, Fixture.data("node-a.json"))
        server.put(Collections.nodes, Fixture.data("node-b.json"))
        return server
    }

    /// A Service named `svc-N` in namespace `bulk` with one port.
    func endpoints(_ snapshot: ProxySnapshot, _ name: ServicePortName) -> [String] {
        (snapshot.endpoints[name] ?? []).map(\.description)
    }

    @Test func theFirstSyncWaitsForEveryResourceAndHoldsServicesEndpointsAndNode() async throws {
        let server = try await serverWithWeb()
        let source = try RunningSource.start(server: server)
        #expect(!source.store.hasSynced)
        #expect(await eventually { source.store.hasSynced })
        let snapshot = source.snapshot()
        let http = portName("shop", "web", "http")
        #expect(snapshot.servicePorts[http]?.clusterIPs.map(\.description) == ["10.96.12.34"])
        #expect(snapshot.servicePorts[portName("kube-system", "kube-dns", "dns", .udp)]?.port == 53)
        #expect(endpoints(snapshot, http) == ["10.244.1.17:8080", "10.244.2.23:8080"])
        let local = snapshot.endpoints[http]?.first
        #expect(local?.isLocal == true && local?.zoneHints == ["eu-west-1a"])
        let terminating = snapshot.endpoints[http]?.last
        #expect(terminating?.isTerminating == true && terminating?.isServing == true && terminating?.isReady == false)
        #expect(snapshot.node.name == "node-a")
        #expect(snapshot.node.addresses.map(\.description) == ["192.168.10.21", "198.51.100.21"])
        #expect(snapshot.node.zone == "eu-west-1a")
        let nodeRequests = server.requests.filter { $0.path == Collections.nodes }
        #expect(nodeRequests.allSatisfy { $0.query["fieldSelector"] == "metadata.name=node-a" })
        #expect(server.requests.first { $0.path == Collections.services }?.query["labelSelector"]
            == "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless")
        #expect(server.requests.allSatisfy { $0.authorization == "Bearer test-token" })
        await source.stop()
        await server.stop()
    }

    @Test func aPagedListFollowsContinueUntilTheLastPage() async throws {
        let server = try await FakeAPIServer()
        for n in 1...7 { server.put(Collections.services, numberedService(n)) }
        let source = try RunningSource.start(server: server, reflector: quickReflector(pageSize: 3))
        #expect(await eventually { source.store.hasSynced && server.liveWatchCount == 3 })
        #expect(source.snapshot().servicePorts.count == 7)
        let lists = server.requests.filter { $0.path == Collections.services && !$0.isWatch }
        #expect(lists.map { $0.query["continue"] ?? "-" } == ["-", "3", "6"])
        #expect(lists.allSatisfy { $0.query["limit"] == "3" })
        // The first LIST from the watch cache, as client-go's (continued pages carry no version).
        #expect(lists.map { $0.query["resourceVersion"] ?? "-" } == ["0", "-", "-"])
        let watch = server.requests.first { $0.path == Collections.services && $0.isWatch }
        #expect(watch?.query["allowWatchBookmarks"] == "true")
        #expect(watch?.query["timeoutSeconds"] == "300")
        #expect(watch?.query["resourceVersion"] == String(server.currentResourceVersion))
        await source.stop()
        await server.stop()
    }

    @Test func watchedAddsChangesAndDeletesReachTheSnapshot() async throws {
        let server = try await serverWithWeb()
        let source = try RunningSource.start(server: server)
        #expect(await eventually { source.store.hasSynced && server.liveWatchCount == 3 })
        let http = portName("shop", "web", "http")
        _ = source.snapshot()

        server.put(Collections.slices, Fixture.data("endpointslice-web.json")) { slice in
            var eps = slice["endpoints"] as! [[String: Any]]
            eps[0]["addresses"] = ["10.244.1.99"]
            slice["endpoints"] = eps
        }
        #expect(await eventually { endpoints(source.snapshot(), http) == ["10.244.1.99:8080", "10.244.2.23:8080"] })

        server.put(Collections.services, Fixture.data("service-nodeport-local.json"))
        let https = portName("edge", "ingress", "https")
        #expect(await eventually { source.snapshot().servicePorts[https]?.nodePort == 30443 })
        #expect(source.snapshot().servicePorts[https]?.healthCheckNodePort == 31001)

        server.delete(Collections.slices, namespace: "shop", name: "web-7xk2p")
        #expect(await eventually { source.snapshot().endpoints[http] == nil })
        server.delete(Collections.services, namespace: "shop", name: "web")
        #expect(await eventually { source.snapshot().servicePorts[http] == nil })
        await source.stop()
        await server.stop()
    }

    @Test func headlessAndOtherProxiesServicesAreIgnoredUnlessTheNameIsOurs() async throws {
        let server = try await FakeAPIServer()
        server.put(Collections.services, Fixture.data("service-headless.json"))
        server.put(Collections.services, Fixture.data("service-other-proxy.json"))
        server.put(Collections.services, Fixture.data("service-web.json"))
        let source = try RunningSource.start(server: server)
        #expect(await eventually { source.store.hasSynced })
        #expect(Set(source.snapshot().servicePorts.keys.map(\.service.name)) == ["web"])
        await source.stop()

        let ours = try RunningSource.start(server: server, proxyName: "other-proxy")
        #expect(await eventually { ours.store.hasSynced })
        // With a name of our own, only the Services labelled with it are ours; unlabelled ones
        // belong to the cluster's default proxy.
        #expect(Set(ours.snapshot().servicePorts.keys.map(\.service.name)) == ["mesh-gateway"])
        await ours.stop()
        await server.stop()
    }

    @Test func aWatchResumesFromTheLastBookmarkAfterACleanEnd() async throws {
        let server = try await serverWithWeb()
        let source = try RunningSource.start(server: server)
        #expect(await eventually { source.store.hasSynced && server.liveWatchCount == 3 })
        server.put(Collections.nodes, Fixture.data("node-b.json"))   // moves the resourceVersion on
        server.bookmark()
        let bookmarked = server.currentResourceVersion
        // The end of the stream follows the bookmark on the same connection, so it is read first.
        server.endWatches()
        #expect(await eventually {
            server.requests.filter { $0.isWatch && $0.path == Collections.services }.last?.query["resourceVersion"] == String(bookmarked)
        })
        #expect(server.requests.filter { !$0.isWatch && $0.path == Collections.services }.count == 1)
        await source.stop()
        await server.stop()
    }

    func goneLeadsToARelistThatDeletesWhatDisappeared(_ style: FakeAPIServer.GoneStyle) async throws {
        let server = try await serverWithWeb()
        server.setGoneStyle(style)
        let source = try RunningSource.start(server: server)
        #expect(await eventually { source.store.hasSynced && server.liveWatchCount == 3 })
        let http = portName("shop", "web", "http")
        #expect(source.snapshot().servicePorts[http] != nil)
        let relists = source.metrics.value(SourceMetrics.relists, [("resource", "services")])

        // The deletion happens while the watch hears nothing, then history is compacted away.
        server.silenceWatches()
        server.delete(Collections.services, namespace: "shop", name: "web")
        server.put(Collections.services, Fixture.data("service-nodeport-local.json"))
        server.compact()
        server.cutWatchesMidObject()

        #expect(await eventually {
            let s = source.snapshot()
            return s.servicePorts[http] == nil && s.servicePorts[portName("edge", "ingress", "https")] != nil
        })
        #expect(source.metrics.value(SourceMetrics.relists, [("resource", "services")]) == relists + 1)
        let lists = server.requests.filter { !$0.isWatch && $0.path == Collections.services }
        #expect(lists.count >= 2)
        // After 410 Gone the relist reads the latest state (no resourceVersion), as client-go's.
        #expect(lists.first?.query["resourceVersion"] == "0" && lists.last?.query["resourceVersion"] == nil)
        await source.stop()
        await server.stop()
    }

    @Test func goneAsAnHTTPStatusRelists() async throws {
        try await goneLeadsToARelistThatDeletesWhatDisappeared(.httpStatus)
    }

    @Test func goneAsAnErrorEventRelists() async throws {
        try await goneLeadsToARelistThatDeletesWhatDisappeared(.errorEvent)
    }

    @Test func anErrorEventOnALiveWatchRelists() async throws {
        let server = try await serverWithWeb()
        let source = try RunningSource.start(server: server)
        #expect(await eventually { source.store.hasSynced && server.liveWatchCount == 3 })
        let lists = server.requests.filter { !$0.isWatch && $0.path == Collections.slices }.count
        let status = String(decoding: Fixture.data("status-410.json"), as: UTF8.self).replacingOccurrences(of: "\n", with: "")
        server.sendToWatchers(Collections.slices, line: #"{"type":"ERROR","object":\#(status)}"#)
        #expect(await eventually { server.requests.filter { !$0.isWatch && $0.path == Collections.slices }.count == lists + 1 })
        #expect(!endpoints(source.snapshot(), portName("shop", "web", "http")).isEmpty)
        await source.stop()
        await server.stop()
    }

    /// A watch that hears nothing for the stall timeout is renewed from the same resourceVersion at
    /// once and quietly: no reconnect counted (idle watches are normal on a quiet cluster).
    @Test func aSilentWatchIsRenewedQuietly() async throws {
        let server = try await serverWithWeb()
        let source = try RunningSource.start(server: server, reflector: quickReflector(stall: .milliseconds(300)))
        #expect(await eventually { source.store.hasSynced && server.liveWatchCount == 3 })
        let watches = server.requests.filter { $0.isWatch && $0.path == Collections.services }.count
        server.silenceWatches()
        #expect(await eventually { server.requests.filter { $0.isWatch && $0.path == Collections.services }.count >= watches + 2 })
        #expect(source.metrics.value(SourceMetrics.reconnects, [("resource", "services")]) == 0)
        server.put(Collections.services, Fixture.data("service-nodeport-local.json"))
        #expect(await eventually { source.snapshot().servicePorts[portName("edge", "ingress", "https")] != nil })
        await source.stop()
        await server.stop()
    }

    @Test func aConnectionCutMidObjectIsWatchedAgainFromTheLastResourceVersion() async throws {
        let server = try await serverWithWeb()
        let source = try RunningSource.start(server: server)
        #expect(await eventually { source.store.hasSynced && server.liveWatchCount == 3 })
        let reconnects = source.metrics.value(SourceMetrics.reconnects, [("resource", "services")])
        let seen = server.currentResourceVersion
        server.cutWatchesMidObject()
        #expect(await eventually { server.liveWatchCount == 3 })
        server.put(Collections.services, Fixture.data("service-nodeport-local.json"))
        #expect(await eventually { source.snapshot().servicePorts[portName("edge", "ingress", "https")] != nil })
        let rewatch = server.requests.filter { $0.isWatch && $0.path == Collections.services }.last
        #expect(rewatch?.query["resourceVersion"] == String(seen))
        #expect(source.metrics.value(SourceMetrics.reconnects, [("resource", "services")]) > reconnects)
        #expect(server.requests.filter { !$0.isWatch && $0.path == Collections.services }.count == 1)
        await source.stop()
        await server.stop()
    }

    @Test func aSilentWatchIsGivenUpAndWhatItMissedIsReplayed() async throws {
        let server = try await serverWithWeb()
        let source = try RunningSource.start(server: server, reflector: quickReflector(stall: .milliseconds(500)))
        #expect(await eventually { source.store.hasSynced && server.liveWatchCount == 3 })
        server.silenceWatches()
        server.put(Collections.services, Fixture.data("service-nodeport-local.json"))
        #expect(await eventually(tries: 1500) { source.snapshot().servicePorts[portName("edge", "ingress", "https")] != nil })
        #expect(server.requests.filter { !$0.isWatch && $0.path == Collections.services }.count == 1)
        await source.stop()
        await server.stop()
    }

    @Test func badObjectsAreSkippedAndCountedWhileEverythingElseSyncs() async throws {
        let server = try await serverWithWeb()
        server.putRaw(Collections.services, namespace: "shop", name: "broken",
                      json: #"{"metadata":{"name":"broken","namespace":"shop"},"spec":{"ports":[{"port":"eighty"}],"clusterIP":"10.96.50.5"}}"#)
        server.put(Collections.services, Fixture.data("service-dns-udp.json")) { s in
            var meta = s["metadata"] as! [String: Any]
            meta["name"] = "out-of-range"
            s["metadata"] = meta
            var spec = s["spec"] as! [String: Any]
            spec["ports"] = [["protocol": "TCP", "port": 70000]]
            s["spec"] = spec
        }
        let source = try RunningSource.start(server: server)
        #expect(await eventually { source.store.hasSynced })
        let names = Set(source.snapshot().servicePorts.keys.map(\.service.name))
        #expect(names == ["web", "kube-dns"])
        #expect(source.metrics.value(SourceMetrics.rejected, [("kind", "Service")]) == 2)

        // A valid Service changed into an invalid one keeps its last valid version.
        #expect(await eventually { server.liveWatchCount == 3 })
        server.put(Collections.services, Fixture.data("service-web.json")) { s in
            var spec = s["spec"] as! [String: Any]
            spec["clusterIP"] = "10.96.12.999"
            spec["clusterIPs"] = ["10.96.12.999"]
            s["spec"] = spec
        }
        server.put(Collections.services, Fixture.data("service-nodeport-local.json"))
        #expect(await eventually { source.snapshot().servicePorts[portName("edge", "ingress", "https")] != nil })
        #expect(source.snapshot().servicePorts[portName("shop", "web", "http")]?.clusterIPs.map(\.description) == ["10.96.12.34"])
        await source.stop()
        await server.stop()
    }

    @Test func theAPIServerGoingAwayRemovesNothing() async throws {
        let server = try await serverWithWeb()
        let source = try RunningSource.start(server: server)
        #expect(await eventually { source.store.hasSynced && server.liveWatchCount == 3 })
        let before = source.snapshot()
        let reconnects = source.metrics.value(SourceMetrics.reconnects, [("resource", "services")])
        await server.stop()
        #expect(await eventually { source.metrics.value(SourceMetrics.reconnects, [("resource", "services")]) >= reconnects + 2 })
        let after = source.snapshot()
        #expect(after.servicePorts == before.servicePorts)
        #expect(after.endpoints == before.endpoints)
        #expect(after.node == before.node)
        await source.stop()
    }

    @Test func cancellingTheSourceEndsEveryWatchPromptly() async throws {
        let server = try await serverWithWeb()
        let source = try RunningSource.start(server: server)
        #expect(await eventually { source.store.hasSynced && server.liveWatchCount == 3 })
        await source.stop()   // returns only once run() has returned
        #expect(await eventually { server.liveWatchCount == 0 })
        await server.stop()
    }
}

@Suite(.serialized) struct EndpointsFallbackTests {
    @Test func v1beta1SlicesAreUsedWhenV1IsNotServed() async throws {
        let server = try await FakeAPIServer()
        server.setServedGroupVersions(["discovery.k8s.io/v1beta1"])
        server.put(Collections.services, Fixture.data("service-web.json"))
        server.put(Collections.slicesBeta, Fixture.data("endpointslice-v1beta1.json"))
        let source = try RunningSource.start(server: server)
        #expect(await eventually { source.store.hasSynced })
        let eps = source.snapshot().endpoints[portName("shop", "web", "http")] ?? []
        #expect(eps.map(\.description) == ["10.244.3.5:8080"])
        #expect(eps.first?.zone == "eu-west-1c" && eps.first?.nodeName == "node-c")
        await source.stop()
        await server.stop()
    }

    @Test func endpointsAreUsedWhenNoSliceVersionIsServed() async throws {
        let server = try await FakeAPIServer()
        server.setServedGroupVersions([])
        server.put(Collections.services, Fixture.data("service-web.json"))
        server.put(Collections.endpoints, Fixture.data("endpoints-web.json"))
        let source = try RunningSource.start(server: server)
        #expect(await eventually { source.store.hasSynced })
        let eps = source.snapshot().endpoints[portName("shop", "web", "metrics")] ?? []
        #expect(eps.map(\.description) == ["10.244.1.17:9100", "10.244.2.23:9100"])
        #expect(eps.map(\.isReady) == [true, false])
        await source.stop()
        await server.stop()
    }

    @Test func endpointsAreUsedWhenConfiguredAndFollowChanges() async throws {
        let server = try await FakeAPIServer()
        server.put(Collections.services, Fixture.data("service-web.json"))
        server.put(Collections.endpoints, Fixture.data("endpoints-web.json"))
        server.put(Collections.slices, Fixture.data("endpointslice-web.json")) { s in s["endpoints"] = [] }
        let source = try RunningSource.start(server: server, endpointsSource: .endpoints)
        #expect(await eventually { source.store.hasSynced && server.liveWatchCount == 3 })
        let http = portName("shop", "web", "http")
        #expect(source.snapshot().endpoints[http]?.count == 2)
        #expect(!server.requests.contains { $0.path.hasPrefix("/apis/discovery.k8s.io") })
        server.delete(Collections.endpoints, namespace: "shop", name: "web")
        #expect(await eventually { source.snapshot().endpoints[http] == nil })
        await source.stop()
        await server.stop()
    }
}
