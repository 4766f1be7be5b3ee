@testable import ProxyDaemon
import ProxyModel
import Testing
import UserspaceProxy

@Suite struct StatusReportTests {
    let web = NamespacedName(namespace: "default", name: "web")

    @Test func listsFrontendsEndpointsAndCountersPerServicePort() {
        let name = ServicePortName(service: web, port: "http", protocol: .tcp)
        let dns = ServicePortName(service: NamespacedName(namespace: "kube-system", name: "dns"), port: "dns", protocol: .udp)
        let snapshot = ProxySnapshot(
            node: NodeInfo(name: "n"),
            servicePorts: [name: ServicePort(name: name, clusterIPs: [IPAddress("10.96.0.80")!, IPAddress("fd00::80")!], port: 80, nodePort: 30080,
                                             externalTrafficPolicy: .local),
                           dns: ServicePort(name: dns, clusterIPs: [IPAddress("10.96.0.10")!], port: 53)],
            endpoints: [name: [Endpoint(address: IPAddress("10.1.0.5")!, port: 8080, isLocal: true, nodeName: "n"),
                               Endpoint(address: IPAddress("10.1.0.6")!, port: 8080, isReady: false, isTerminating: true)]])
        var nodePort = RuleStatistics(), portal = RuleStatistics()
        nodePort.connectionsOpened = 2
        portal.connectionsOpened = 3
        portal.bytesBackendToClient = 10
        let counters = StatusReport.perServicePort(["default/web:http": nodePort, "default/web:http 10.96.0.80:80": portal])
        var status = SyncStatus.Values()
        status.syncs = 4
        status.lastSuccess = 1_800_000_000
        let text = StatusReport.render(mode: "userspace", status: status, snapshot: snapshot, counters: counters)
        #expect(text == """
            mode: userspace
            syncs: 4, last success: 2027-01-15T08:00:00Z, consecutive failures: 0
            service ports: 2

            default/web:http TCP
              frontends: 10.96.0.80:80, [fd00::80]:80, nodePort 30080
              policy: externalTrafficPolicy Local
              -> 10.1.0.5:8080 ready local
              -> 10.1.0.6:8080 serving terminating
              connections: 5 opened, 0 active, 0 rejected, 0 dial failures; bytes: 0 in, 10 out; udp flows: 0 total, 0 active

            kube-system/dns:dns UDP
              frontends: 10.96.0.10:53
              endpoints: none (connections are rejected)
              connections: 0 opened, 0 active, 0 rejected, 0 dial failures; bytes: 0 in, 0 out; udp flows: 0 total, 0 active

            """)
        // Rule backends count nothing per Service: no counter lines.
        #expect(!StatusReport.render(mode: "nftables", status: status, snapshot: snapshot, counters: nil).contains("connections:"))
        #expect(StatusReport.render(mode: "nftables", status: SyncStatus.Values(), snapshot: nil, counters: nil).hasSuffix("no sync programmed yet\n"))
    }

    @Test func loopbackClientsAreTheOnlyOnesForStatus() {
        #expect(HTTPServer.isLoopback("127.0.0.1"))
        #expect(HTTPServer.isLoopback("127.3.0.1"))
        #expect(HTTPServer.isLoopback("::1"))
        #expect(HTTPServer.isLoopback("::ffff:127.0.0.1"))
        #expect(!HTTPServer.isLoopback("10.0.0.1"))
        #expect(!HTTPServer.isLoopback("::ffff:10.0.0.1"))
        #expect(!HTTPServer.isLoopback("fd00::1"))
        #expect(!HTTPServer.isLoopback(nil))
    }

    @Test func theCommandAsksTheMetricsPortOverLoopback() throws {
        var config = ProxyConfig()
        config.metricsBindAddress = "0.0.0.0:10249"
        #expect(try StatusClient.url(for: config) == "http://127.0.0.1:10249/status")
        config.metricsBindAddress = "[::]:9000"
        #expect(try StatusClient.url(for: config) == "http://[::1]:9000/status")
        config.metricsBindAddress = "10.0.0.5:10249"
        #expect(throws: StatusClient.Failure.self) { try StatusClient.url(for: config) }
        config.metricsBindAddress = "127.0.0.1:0"
        #expect(throws: StatusClient.Failure.self) { try StatusClient.url(for: config) }
    }
}
