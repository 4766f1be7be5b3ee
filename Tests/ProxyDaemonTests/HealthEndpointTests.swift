import Foundation
import Logging
@testable import ProxyDaemon
import ProxyModel
import Synchronization
import Testing

/// /healthz and /livez over real HTTP, in each state kube-proxy distinguishes; the clock is the
/// test's own, so "stale" needs no waiting.
@Suite struct HealthEndpointTests {
    let web = NamespacedName(namespace: "default", name: "web")

    final class TestClock: Sendable {
        let seconds = Mutex(1_800_000_000.0)
        var now: Double { seconds.withLock { $0 } }
        func advance(_ s: Double) { seconds.withLock { $0 += s } }
    }

    struct Fixture {
        let store = ClusterStore(node: NodeInfo(name: "n"))
        let status = SyncStatus()
        let clock = TestClock()
        let health: ProxyHealth
        let server: HTTPServer

        let metrics = ProxyMetrics()

        init() async throws {
            let clock = self.clock
            health = ProxyHealth(status: status, syncPeriod: .seconds(30), store: store, metrics: metrics.sync, now: { clock.now })
            let health = self.health
            server = try await HTTPServer.start(host: "127.0.0.1", port: 0) { health.handle($0) }
        }

        func get(_ path: String) async throws -> HTTPGetResult { try await httpGet("http://127.0.0.1:\(server.port)\(path)") }
    }

    func json(_ body: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
    }

    @Test func freshBeforeTheFirstSyncIsHealthy() async throws {
        let f = try await Fixture()
        let healthz = try await f.get("/healthz")
        #expect(healthz.status == 200)
        #expect(healthz.headers["content-type"] == "application/json")
        let body = try json(healthz.body)
        #expect(body["nodeEligible"] as? Bool == true)
        #expect(body["currentTime"] as? String == GoTime.string(f.clock.now))
        #expect(body["lastUpdated"] as? String == GoTime.string(f.clock.now))
        #expect(try await f.get("/livez").status == 200)
        #expect(try await f.get("/nothing").status == 404)
        // Starting up (nothing queued while the sources list): healthy however long it takes.
        f.clock.advance(3600)
        #expect(try await f.get("/livez").status == 200)
        await f.server.close()
    }

    /// Ready only once a sync has programmed the node (a pod that never reaches the API stays unready).
    @Test func readyOnlyOnceASyncHasSucceeded() async throws {
        let f = try await Fixture()
        let before = try await f.get("/readyz")
        #expect(before.status == 503)
        #expect(try json(before.body)["ready"] as? Bool == false)
        f.status.record { $0.lastSuccess = f.clock.now }
        #expect(try await f.get("/readyz").status == 200)
        // A change waiting too long: unready again, as unhealthy.
        f.status.record { $0.oldestQueuedChange = f.clock.now }
        f.clock.advance(61)
        #expect(try await f.get("/readyz").status == 503)
        await f.server.close()
    }

    /// As kube-proxy: a first sync that keeps failing is as stale as any other.
    @Test func aQueuedChangeWithNoSuccessfulSyncYetTurnsStale() async throws {
        let f = try await Fixture()
        f.status.record { $0.oldestQueuedChange = f.clock.now; $0.consecutiveFailures = 3 }
        f.clock.advance(59)
        #expect(try await f.get("/healthz").status == 200)
        f.clock.advance(1)
        let healthz = try await f.get("/healthz")
        #expect(healthz.status == 503)
        #expect(try json(healthz.body)["lastUpdated"] as? String == GoTime.zero)
        #expect(try await f.get("/livez").status == 503)
        await f.server.close()
    }

    /// Changes recorded while the sources list are start-up; the initial state is queued from the
    /// moment they have all listed.
    @Test func theRunnerQueuesNothingBeforeTheSourcesHaveListed() async throws {
        let store = ClusterStore(node: NodeInfo(name: "n"))
        store.expectInitialSync(of: "services")
        let status = SyncStatus()
        let runner = SyncRunner(store: store, dataplane: RecordingDataplane(failFirst: 1_000_000), minSyncPeriod: .milliseconds(10),
                                syncPeriod: .seconds(60), status: status, logger: Logger(label: "test"))
        let task = Task { await runner.run() }
        defer { task.cancel() }
        store.update(now: 100) {
            $0.setService(web, ports: [ServicePort(name: ServicePortName(service: web, port: "", protocol: .tcp), clusterIPs: [IPAddress("10.0.0.1")!], port: 80)])
        }
        let before = Date().timeIntervalSince1970
        store.markSynced("services")
        try await eventually { status.current.consecutiveFailures >= 1 }
        #expect((status.current.oldestQueuedChange ?? 0) >= before)
    }

    @Test func syncedIsHealthyAndAQueuedChangeTurnsStaleAfterTwoSyncPeriods() async throws {
        let f = try await Fixture()
        f.status.record { $0.lastSuccess = f.clock.now; $0.syncs = 1 }
        #expect(try await f.get("/healthz").status == 200)

        // A change is queued and not programmed: healthy while younger than 2 × syncPeriod (60 s).
        let lastSync = f.clock.now
        f.status.record { $0.oldestQueuedChange = f.clock.now }
        f.clock.advance(59)
        #expect(try await f.get("/healthz").status == 200)
        f.clock.advance(1)
        let healthz = try await f.get("/healthz")
        #expect(healthz.status == 503)
        #expect(try json(healthz.body)["lastUpdated"] as? String == GoTime.string(lastSync))
        #expect(try await f.get("/livez").status == 503)
        #expect(sample(f.metrics.render(), "kubeproxy_proxy_healthz_total", #"code="503""#) == 1)
        #expect(sample(f.metrics.render(), "kubeproxy_proxy_healthz_total", #"code="200""#) == 2)
        #expect(sample(f.metrics.render(), "kubeproxy_proxy_livez_total", #"code="503""#) == 1)

        // A sync programs it: healthy again.
        f.status.record { $0.oldestQueuedChange = nil; $0.lastSuccess = f.clock.now }
        #expect(try await f.get("/healthz").status == 200)
        #expect(try await f.get("/livez").status == 200)
        await f.server.close()
    }

    @Test func aNodeBeingDeletedFailsHealthzButNotLivez() async throws {
        let f = try await Fixture()
        f.store.update(now: 0) { $0.setNode(NodeInfo(name: "n", isTerminating: true)) }
        let healthz = try await f.get("/healthz")
        #expect(healthz.status == 503)
        #expect(try json(healthz.body)["nodeEligible"] as? Bool == false)
        #expect(try await f.get("/livez").status == 200)
        await f.server.close()
    }

    @Test func theRunnerMarksQueuedChangesAndClearsThemWhenProgrammed() async throws {
        let store = ClusterStore(node: NodeInfo(name: "n"))
        let dataplane = RecordingDataplane(failFirst: 1_000_000)
        let status = SyncStatus()
        let runner = SyncRunner(store: store, dataplane: dataplane, minSyncPeriod: .milliseconds(10), syncPeriod: .seconds(60),
                                status: status, logger: Logger(label: "test"))
        let task = Task { await runner.run() }
        defer { task.cancel() }
        store.update(now: 100) {
            $0.setService(web, ports: [ServicePort(name: ServicePortName(service: web, port: "", protocol: .tcp), clusterIPs: [IPAddress("10.0.0.1")!], port: 80)])
        }
        // Failing syncs leave the change queued, with the time the source recorded it.
        try await eventually { status.current.consecutiveFailures >= 1 }
        #expect(status.current.oldestQueuedChange == 100)
    }

    @Test func healthCheckNodePortsAnswerByLocalEndpoints() async throws {
        let healthy = Mutex(true)
        let servers = ServiceHealthServers(host: "127.0.0.1", proxyHealthy: { healthy.withLock { $0 } }, logger: Logger(label: "test"))
        let port = try freePort()
        let name = ServicePortName(service: web, port: "http", protocol: .tcp)
        let service = ServicePort(name: name, clusterIPs: [IPAddress("172.30.0.10")!], port: 80, nodePort: 30080,
                                  loadBalancerIPs: [IPAddress("203.0.113.7")!], externalTrafficPolicy: .local,
                                  healthCheckNodePort: Int(port))
        let node = NodeInfo(name: "n")
        func snapshot(localEndpoints: Int, generation: Int) -> ProxySnapshot {
            var endpoints = (0..<localEndpoints).map { Endpoint(address: IPAddress("10.1.0.\($0 + 1)")!, port: 8080, isLocal: true, nodeName: "n") }
            endpoints.append(Endpoint(address: IPAddress("10.2.0.1")!, port: 8080, isLocal: false, nodeName: "other"))
            return ProxySnapshot(node: node, servicePorts: [name: service], endpoints: [name: endpoints], generation: generation)
        }
        let url = "http://127.0.0.1:\(port)/"

        await servers.synced(CompletedSync(previous: nil, snapshot: snapshot(localEndpoints: 2, generation: 1), diff: SnapshotDiff(), full: true))
        #expect(servers.ports == [Int(port)])
        var answer = try await httpGet(url)
        #expect(answer.status == 200)
        #expect(answer.headers["x-load-balancing-endpoint-weight"] == "2")
        var body = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as! [String: Any]
        #expect((body["service"] as? [String: String]) == ["namespace": "default", "name": "web"])
        #expect(body["localEndpoints"] as? Int == 2)
        #expect(body["serviceProxyHealthy"] as? Bool == true)

        // The proxy itself unhealthy: 503 even with local endpoints.
        healthy.withLock { $0 = false }
        #expect(try await httpGet(url).status == 503)
        healthy.withLock { $0 = true }

        await servers.synced(CompletedSync(previous: nil, snapshot: snapshot(localEndpoints: 0, generation: 2), diff: SnapshotDiff(), full: false))
        answer = try await httpGet(url)
        #expect(answer.status == 503)
        #expect(answer.headers["x-load-balancing-endpoint-weight"] == "0")
        body = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as! [String: Any]
        #expect(body["localEndpoints"] as? Int == 0)

        // The Service is gone: its port closes.
        await servers.synced(CompletedSync(previous: nil, snapshot: ProxySnapshot(node: node, generation: 3), diff: SnapshotDiff(), full: false))
        #expect(servers.ports.isEmpty)
        await #expect(throws: (any Error).self) { _ = try await httpGet(url) }
    }

    @Test func goTimeMatchesGosLayout() {
        #expect(GoTime.string(nil) == "0001-01-01 00:00:00 +0000 UTC")
        #expect(GoTime.string(1_700_000_000) == "2023-11-14 22:13:20 +0000 UTC")
        #expect(GoTime.string(1_700_000_000.25) == "2023-11-14 22:13:20.25 +0000 UTC")
    }
}

@Suite struct JSONStringTests {
    /// Whatever a name holds, the health check body stays one JSON object with that name in it.
    @Test(arguments: ["web", "we\"ird", "back\\slash", "new\nline\",\"localEndpoints\": 99", "tab\there", "ünïcødé ✓", "\u{1}\u{1f}"])
    func anyNameRoundTripsThroughJSON(name: String) throws {
        let text = "{\"name\": \(JSONString.quoted(name))}"
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]
        #expect(object == ["name": name])
    }
}
