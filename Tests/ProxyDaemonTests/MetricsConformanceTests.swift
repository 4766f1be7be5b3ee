import EndToEndSupport
import Foundation
import Logging
@testable import ProxyDaemon
import ProxyModel
import Testing

/// Our /metrics against kube-proxy's list (`UpstreamMetrics`): every metric of upstream's that we
/// export has its type and labels, with one series per family of a dual-stack node; and promtool
/// accepts the scrape.
@Suite struct MetricsConformanceTests {
    let web = NamespacedName(namespace: "default", name: "web")

    /// Type and label names per metric family of an exposition (histogram samples under their family).
    struct Scrape {
        var types: [String: String] = [:]
        var labels: [String: Set<String>] = [:]
        var series: [String: Set<String>] = [:]

        init(_ text: String) {
            for line in text.split(separator: "\n") {
                if line.hasPrefix("# TYPE ") {
                    let parts = line.split(separator: " ")
                    if parts.count == 4 { types[String(parts[2])] = String(parts[3]) }
                    continue
                }
                guard !line.hasPrefix("#"), let key = line.split(separator: " ").first else { continue }
                var name = String(key.prefix { $0 != "{" })
                for suffix in ["_bucket", "_sum", "_count"] where types[name] == nil && name.hasSuffix(suffix) {
                    name = String(name.dropLast(suffix.count))
                }
                var names: Set<String> = []
                var pairs: [String] = []
                if let open = key.firstIndex(of: "{") {
                    for pair in key[key.index(after: open)..<key.index(before: key.endIndex)].split(separator: ",") {
                        let label = String(pair.prefix { $0 != "=" })
                        if label != "le" { names.insert(label); pairs.append(String(pair)) }
                    }
                }
                labels[name, default: []].formUnion(names)
                series[name, default: []].insert(pairs.joined(separator: ","))
            }
        }
    }

    func servicePort(_ ips: [String], local: Bool) -> ServicePort {
        var port = ServicePort(name: ServicePortName(service: web, port: "http", protocol: .tcp), clusterIPs: ips.map { IPAddress($0)! }, port: 80)
        if local {
            port.nodePort = 30080
            port.externalTrafficPolicy = .local
            port.internalTrafficPolicy = .local
        }
        return port
    }

    /// A dual-stack node after a sync, a health probe, a conntrack reconcile and an iptables rule count.
    func dualStackScrape() async throws -> String {
        let metrics = ProxyMetrics(families: [.ipv4, .ipv6])
        let server = try await HTTPServer.start(host: "127.0.0.1", port: 0) { _ in
            HTTPResponse(status: 200, headers: ["Content-Type": ProxyMetrics.contentType], body: metrics.render())
        }
        let store = ClusterStore(node: NodeInfo(name: "n"))
        let runner = SyncRunner(store: store, dataplane: RecordingDataplane(), minSyncPeriod: .milliseconds(10), syncPeriod: .seconds(60),
                                metrics: metrics.sync, logger: Logger(label: "test"))
        let task = Task { await runner.run() }
        defer { task.cancel() }
        store.update(now: Date().timeIntervalSince1970) { $0.setService(web, ports: [servicePort(["172.30.0.10", "fd00::10"], local: false)]) }
        try await eventually { runner.status.current.syncs == 1 }
        metrics.sync.healthChecked("healthz", code: 200)
        metrics.sync.healthChecked("livez", code: 200)
        metrics.sync.conntrackReconciled(family: "IPv4", seconds: 0.01, deleted: 1)
        metrics.sync.conntrackReconciled(family: "IPv6", seconds: 0.01, deleted: 0)
        metrics.sync.rulesInstalled(["nat": 10, "filter": 4], dataplane: "iptables")
        let body = try await httpGet("http://127.0.0.1:\(server.port)/metrics").body
        await server.close()
        return body
    }

    @Test func everyUpstreamMetricWeExportHasUpstreamsTypeAndLabels() async throws {
        let scrape = Scrape(try await dualStackScrape())
        for upstream in UpstreamMetrics.all {
            guard let type = scrape.types[upstream.name] else {
                // Absent only where the list says why.
                #expect(upstream.omission != nil, "\(upstream.name) is missing from /metrics")
                continue
            }
            #expect(type == upstream.kind.rawValue, "\(upstream.name): \(type), upstream \(upstream.kind)")
            let ours = scrape.labels[upstream.name] ?? []
            if case .omitted = upstream.omission {
                #expect(ours.isSubset(of: upstream.labels), "\(upstream.name): labels \(ours.sorted())")
            } else {
                #expect(ours == upstream.labels, "\(upstream.name): labels \(ours.sorted()), upstream \(upstream.labels.sorted())")
            }
            // One series per family, as upstream's two proxiers each export theirs.
            if ours.contains("ip_family") {
                let families = Set((scrape.series[upstream.name] ?? []).compactMap { series in
                    series.split(separator: ",").first { $0.hasPrefix("ip_family=") }.map(String.init)
                })
                #expect(families == [#"ip_family="IPv4""#, #"ip_family="IPv6""#], "\(upstream.name): \(families.sorted())")
            }
        }
    }

    /// `promtool check metrics` on the real scrape: no finding but upstream's own, its two gauges named
    /// `_total` (`…_no_local_endpoints_total`, `…_iptables_total`), kept for dashboards.
    @Test func promtoolAcceptsTheScrape() async throws {
        let upstreamGaugesNamedTotal = UpstreamMetrics.all.filter { $0.kind == .gauge && $0.name.hasSuffix("_total") }.map(\.name)
        #expect(upstreamGaugesNamedTotal == ["kubeproxy_sync_proxy_rules_no_local_endpoints_total", "kubeproxy_sync_proxy_rules_iptables_total"])
        let (status, output) = try runProgram(["promtool", "check", "metrics"], input: try await dualStackScrape())
        let findings = output.split(separator: "\n").map(String.init).filter { finding in
            !upstreamGaugesNamedTotal.contains { finding.contains("\($0) non-counter metrics should not have \"_total\" suffix") }
        }
        #expect(findings.isEmpty, "\(findings)")
        #expect(status == 0 || !output.isEmpty)
    }

    /// Upstream counts a Local-policy Service port only when it has usable endpoints elsewhere and
    /// none here, per family of its ClusterIPs (each family's proxier sees its own endpoints).
    @Test func noLocalEndpointsCountsServicesServedElsewhereOnly() {
        let node = NodeInfo(name: "n")
        let name = ServicePortName(service: web, port: "http", protocol: .tcp)
        func snapshot(_ endpoints: [Endpoint], local: Bool = true) -> ProxySnapshot {
            ProxySnapshot(node: node, servicePorts: [name: servicePort(["172.30.0.10", "fd00::10"], local: local)],
                          endpoints: endpoints.isEmpty ? [:] : [name: endpoints])
        }
        let remote4 = Endpoint(address: IPAddress("10.1.0.5")!, port: 8080, nodeName: "other")
        let local4 = Endpoint(address: IPAddress("10.1.0.6")!, port: 8080, isLocal: true, nodeName: "n")
        let remote6 = Endpoint(address: IPAddress("fd01::5")!, port: 8080, nodeName: "other")
        // No endpoints at all: rejected, not "no local endpoints".
        #expect(NoLocalEndpoints.count(in: snapshot([])) == [:])
        // IPv4 endpoints elsewhere only: counted for IPv4 under both policies; IPv6 has none at all.
        #expect(NoLocalEndpoints.count(in: snapshot([remote4])) == [.ipv4: .init(internal: 1, external: 1)])
        #expect(NoLocalEndpoints.count(in: snapshot([local4, remote4, remote6])) == [.ipv6: .init(internal: 1, external: 1)])
        #expect(NoLocalEndpoints.count(in: snapshot([remote4], local: false)) == [:])
    }
}
