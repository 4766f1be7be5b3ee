import DataplaneScenarios
import EndToEndSupport
import Foundation
import ProxyModel
import Testing

/// The real binary in `mode: iptables` inside a topology's node namespace (issue 11): it sets
/// `route_localnet` there (and only there), serves the NodePort on 127.0.0.1, and shows
/// kube-proxy's iptables metrics.
@Suite(.serialized, .enabled(if: Shell.canRunNamespaces, "needs root and iproute2"))
struct IPTablesLocalhostEndToEndTests {
    static let nodePort: UInt16 = 30081
    static let metricsPort = 10249

    @Test func daemonServesLocalhostNodePortsAndReportsIPTablesMetrics() async throws {
        let topology = try Topology(pods: 1)
        defer { topology.teardown() }
        func inNode(_ args: String...) -> String { (try? Shell.run(topology.nodeCommandPrefix + args)) ?? "" }
        #expect(inNode("sysctl", "-n", "net.ipv4.conf.all.route_localnet").hasPrefix("0"))
        let hostBefore = try String(contentsOfFile: "/proc/sys/net/ipv4/conf/all/route_localnet", encoding: .utf8)

        let config = """
        mode: iptables
        source: file
        manifests: services.yaml
        clusterCIDR: ["\(Topology.clusterCIDR)"]
        minSyncPeriod: 50ms
        metricsBindAddress: 127.0.0.1:\(Self.metricsPort)
        healthzBindAddress: 127.0.0.1:10256
        """
        let manifests = Manifests.service("web", nodePort: Self.nodePort, clusterIP: "172.30.0.41")
            + Manifests.slice("web-1", service: "web", backendPort: Topology.backendPort, addresses: ["\(Topology.podAddress(1))"])
        let proxy = try ProxyProcess(config: config, manifests: manifests, prefix: topology.nodeCommandPrefix)
        defer { proxy.stop() }

        let probe = Probe(.tcp, IPAddress("127.0.0.1")!, Int(Self.nodePort), count: 1, timeoutSeconds: 2)
        let answer = await poll(tries: 100, { (try? topology.probe(from: .node, probe))?.first }, until: {
            if case .answered? = $0 { true } else { false }
        })
        #expect(answer == .answered(server: Topology.podAddress(1), peer: Topology.podGateway(1)), "\(proxy.stderr)")
        #expect(inNode("sysctl", "-n", "net.ipv4.conf.all.route_localnet").hasPrefix("1"))
        // The host's own value is not touched.
        #expect(try String(contentsOfFile: "/proc/sys/net/ipv4/conf/all/route_localnet", encoding: .utf8) == hostBefore)

        let fetch = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:\(Self.metricsPort)/metrics').read().decode())"
        let metrics = await poll(tries: 100, { inNode("python3", "-c", fetch) }, until: {
            $0.contains("kubeproxy_iptables_ct_state_invalid_dropped_packets_total")
        })
        #expect(metrics.contains("kubeproxy_sync_proxy_rules_iptables_last{table=\"nat\"}"))
        #expect(metrics.contains("kubeproxy_sync_proxy_rules_iptables_last{table=\"filter\"}"))
        #expect(metrics.contains("# TYPE kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total counter"))
        #expect(metrics.contains("kubeproxy_iptables_ct_state_invalid_dropped_packets_total 0"))
        // promtool's lint finds nothing in these (other metrics are other tests' business).
        if (try? Shell.run(["promtool", "--version"])) != nil {
            // It exits 1 when any metric has a problem; what it says is in the failure's output.
            var lint = ""
            do { lint = try Shell.run(["promtool", "check", "metrics"], input: metrics) } catch let failure as Shell.Failure { lint = failure.output }
            let ours = ["iptables_last", "partial_restore_failures", "ct_state_invalid"]
            #expect(!lint.split(separator: "\n").contains { line in ours.contains { line.contains($0) } }, "\(lint)")
        }
    }
}
