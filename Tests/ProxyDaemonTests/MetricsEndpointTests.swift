import EndToEndSupport
import Foundation
import Logging
@testable import ProxyDaemon
import ProxyModel
import Testing
import UserspaceProxy
import Glibc

@Suite struct MetricsEndpointTests {
    let web = NamespacedName(namespace: "default", name: "web")
    /// Upstream's per-family label, first on each family's series.
    let v4 = #"ip_family="IPv4""#

    func servicePort(_ ip: String) -> ServicePort {
        ServicePort(name: ServicePortName(service: web, port: "http", protocol: .tcp), clusterIPs: [IPAddress(ip)!], port: 80)
    }

    func slice(triggeredAt time: Double) -> EndpointSliceInfo {
        EndpointSliceInfo(name: NamespacedName(namespace: "default", name: "web-abc"), service: web,
                          ports: [.init(name: "http", port: 8080, protocol: .tcp)],
                          backends: [.init(address: IPAddress("10.1.0.5")!)], lastChangeTriggerTime: time)
    }

    func serve(_ metrics: ProxyMetrics) async throws -> HTTPServer {
        try await HTTPServer.start(host: "127.0.0.1", port: 0) { path in
            path == "/metrics" ? HTTPResponse(status: 200, headers: ["Content-Type": ProxyMetrics.contentType], body: metrics.render()) : .notFound
        }
    }

    /// promtool's lint, minus the one finding kube-proxy itself has here: its no_local_endpoints gauge is named `_total`.
    func promtoolFindings(_ text: String) throws -> [String] {
        let (status, output) = try runProgram(["promtool", "check", "metrics"], input: text)
        let findings = output.split(separator: "\n").map(String.init)
            .filter { !$0.contains("kubeproxy_sync_proxy_rules_no_local_endpoints_total non-counter metrics should not have \"_total\" suffix") }
        if status != 0 && findings.isEmpty { return [] }
        return status == 0 ? [] : findings.isEmpty ? ["exit \(status)"] : findings
    }

    @Test func syncsMoveKubeProxysMetricsAndPromtoolAcceptsTheScrape() async throws {
        let metrics = ProxyMetrics()
        let server = try await serve(metrics)
        let store = ClusterStore(node: NodeInfo(name: "n"))
        let runner = SyncRunner(store: store, dataplane: RecordingDataplane(), minSyncPeriod: .milliseconds(10), syncPeriod: .seconds(60),
                                metrics: metrics.sync, logger: Logger(label: "test"))
        let url = "http://127.0.0.1:\(server.port)/metrics"
        let now = Date().timeIntervalSince1970
        // In the store before the runner starts: a runner that started first would sync the empty
        // store, count that as sync 1, and the scrape could already see this change's sync 2.
        store.update(now: now) {
            $0.setService(web, ports: [servicePort("172.30.0.10")])
            $0.setEndpointSlice(slice(triggeredAt: now - 3))
        }
        let task = Task { await runner.run() }
        defer { task.cancel() }
        try await eventually { runner.status.current.syncs == 1 }
        var scrape = try await httpGet(url)
        #expect(scrape.status == 200)
        #expect(scrape.headers["content-type"] == ProxyMetrics.contentType)
        #expect(sample(scrape.body, "kubeproxy_sync_proxy_rules_duration_seconds_count", v4) == 1)
        #expect(sample(scrape.body, "kubeproxy_sync_full_proxy_rules_duration_seconds_count", v4) == 1)
        #expect(sample(scrape.body, "kubeproxy_sync_partial_proxy_rules_duration_seconds_count", v4) == 0)
        #expect(sample(scrape.body, "kubeproxy_sync_proxy_rules_service_changes_total") == 1)
        #expect(sample(scrape.body, "kubeproxy_sync_proxy_rules_endpoint_changes_total") == 1)
        #expect(sample(scrape.body, "kubeproxy_sync_proxy_rules_service_changes_pending") == 0)
        #expect((sample(scrape.body, "kubeproxy_sync_proxy_rules_last_timestamp_seconds", v4) ?? 0) >= now)
        // The slice's trigger time was 3 s before: the observation lands in the 3 s bucket, not below.
        #expect(sample(scrape.body, "kubeproxy_network_programming_duration_seconds_count", v4) == 1)
        #expect(sample(scrape.body, "kubeproxy_network_programming_duration_seconds_bucket", v4 + #",le="2.0""#) == 0)
        #expect(sample(scrape.body, "kubeproxy_sync_proxy_rules_duration_seconds_bucket", v4 + #",le="16.384""#) == 1)
        #expect(sample(scrape.body, "process_start_time_seconds").map { $0 > 0 && $0 <= Date().timeIntervalSince1970 } == true)
        #expect((sample(scrape.body, "process_resident_memory_bytes") ?? 0) > 0)
        #expect((sample(scrape.body, "process_open_fds") ?? 0) > 0)
        #expect(try promtoolFindings(scrape.body) == [])

        #expect(sample(scrape.body, "kubeproxy_sync_proxy_rules_no_local_endpoints_total", v4 + #",traffic_policy="external""#) == 0)

        // Local external policy and the only endpoint on another node: counted as having no local endpoints.
        var local = servicePort("172.30.0.11")
        local.nodePort = 30080
        local.externalTrafficPolicy = .local
        // The runner watches the store by now (it has synced once), so this change is seen queued; the
        // first may come before the runner subscribes, which the sync still takes but does not time.
        let queuedAt = Date().timeIntervalSince1970
        store.update(now: queuedAt) { $0.setService(web, ports: [local]) }
        try await eventually { runner.status.current.syncs == 2 }
        scrape = try await httpGet(url)
        #expect((sample(scrape.body, "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", v4) ?? 0) >= queuedAt)
        #expect(sample(scrape.body, "kubeproxy_sync_proxy_rules_duration_seconds_count", v4) == 2)
        #expect(sample(scrape.body, "kubeproxy_sync_partial_proxy_rules_duration_seconds_count", v4) == 1)
        #expect(sample(scrape.body, "kubeproxy_sync_proxy_rules_service_changes_total") == 2)
        #expect(sample(scrape.body, "kubeproxy_sync_proxy_rules_no_local_endpoints_total", v4 + #",traffic_policy="external""#) == 1)
        #expect(sample(scrape.body, "kubeproxy_sync_proxy_rules_no_local_endpoints_total", v4 + #",traffic_policy="internal""#) == 0)
        #expect(try promtoolFindings(scrape.body) == [])
        await server.close()
    }

    @Test func failedSyncsCountAsTheBackendsFailureMetric() async throws {
        final class FailingNFT: Dataplane {
            let name = "nftables"
            struct Refused: Error {}
            func apply(_ snapshot: ProxySnapshot, diff: SnapshotDiff, full: Bool) async throws { throw Refused() }
        }
        let metrics = ProxyMetrics()
        let store = ClusterStore(node: NodeInfo(name: "n"))
        let runner = SyncRunner(store: store, dataplane: FailingNFT(), minSyncPeriod: .milliseconds(10), syncPeriod: .seconds(60),
                                metrics: metrics.sync, logger: Logger(label: "test"))
        let task = Task { await runner.run() }
        defer { task.cancel() }
        store.update(now: 0) { $0.setService(web, ports: [servicePort("172.30.0.10")]) }
        try await eventually { runner.status.current.consecutiveFailures >= 1 }
        let text = metrics.render()
        #expect((sample(text, "kubeproxy_sync_proxy_rules_nftables_sync_failures_total", v4) ?? 0) >= 1)
        #expect(sample(text, "kubeproxy_sync_proxy_rules_iptables_restore_failures_total", v4) == 0)
    }

    @Test func userspaceCountersMoveWhenTrafficFlows() async throws {
        // A backend on loopback that answers each connection with what it read.
        let backend = try EchoServer()
        let proxy = try UserspaceProxy(tuning: ProxyTuning(), logger: Logger(label: "test"))
        let listenPort = try freePort()
        let failures = proxy.apply([ForwardingRule(name: "default/web:http", protocol: .tcp,
                                                   listenAddresses: [try ProxyAddress(host: "127.0.0.1", port: listenPort)],
                                                   backends: [try ProxyAddress(host: "127.0.0.1", port: backend.port)])])
        #expect(failures.isEmpty)
        let metrics = ProxyMetrics()
        let perService = UserspaceMetrics(registry: metrics.registry, statistics: { proxy.statistics() })
        metrics.addCollector { perService.collect() }
        let server = try await serve(metrics)

        let before = try await httpGet("http://127.0.0.1:\(server.port)/metrics").body
        #expect((sample(before, "swift_kube_proxy_userspace_connections_opened_total", #"service_port="default/web:http""#) ?? 0) == 0)

        let reply = try EchoServer.roundTrip(port: listenPort, message: "hello through the proxy")
        #expect(reply == "hello through the proxy")
        let labels = #"service_port="default/web:http""#
        var after = ""
        try await eventually {
            after = try await httpGet("http://127.0.0.1:\(server.port)/metrics").body
            return (sample(after, "swift_kube_proxy_userspace_bytes_total", labels + #",direction="backend_to_client""#) ?? 0) >= 23
        }
        #expect(sample(after, "swift_kube_proxy_userspace_connections_opened_total", labels) == 1)
        #expect((sample(after, "swift_kube_proxy_userspace_bytes_total", labels + #",direction="client_to_backend""#) ?? 0) >= 23)
        #expect((sample(after, "swift_kube_proxy_userspace_bytes_total", labels + #",direction="backend_to_client""#) ?? 0) >= 23)
        #expect(try promtoolFindings(after) == [])
        await server.close()
        await proxy.shutdown(gracePeriod: .zero)
    }
}
