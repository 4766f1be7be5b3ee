import EndToEndSupport
import Logging
@testable import ProxyDaemon
import ProxyModel
import Testing

/// A source that fails stops the program through the same ordered shutdown as SIGTERM: listeners
/// closed, relays drained, servers closed; then its error comes out of `run()`.
@Suite struct SourceFailureTests {
    struct SourceGone: Error {}

    @Test func aFailingSourceStopsTheProxyInOrderAndItsErrorComesOut() async throws {
        let nodePort = try freePort()
        var config = ProxyConfig()
        config.mode = .userspace
        config.userspace.redirects = false
        config.userspace.eventLoops = 1
        config.nodePortAddresses = [CIDR("127.0.0.1/32")!]
        config.minSyncPeriod = .milliseconds(10)
        config.metricsBindAddress = "127.0.0.1:0"
        config.healthzBindAddress = "127.0.0.1:0"
        var logger = Logger(label: "SourceFailureTests")
        logger.logLevel = .critical
        var daemon = ProxyDaemon(config: config, logger: logger)
        let (gate, open) = AsyncStream<Void>.makeStream()
        daemon.sourceOverride = { store in
            store.expectInitialSync(of: "test")
            return {
                let web = NamespacedName(namespace: "default", name: "web")
                let port = ServicePort(name: ServicePortName(service: web, port: "http", protocol: .tcp),
                                       clusterIPs: [IPAddress("10.96.0.10")!], port: 80, targetPort: .number(9), nodePort: Int(nodePort))
                store.update(now: 0) { state in
                    state.setService(web, ports: [port])
                    state.setEndpointSlice(EndpointSliceInfo(name: NamespacedName(namespace: "default", name: "web-1"), service: web,
                                                             ports: [.init(name: "http", port: 9, protocol: .tcp)],
                                                             backends: [.init(address: IPAddress("127.0.0.1")!)]))
                }
                store.markSynced("test")
                for await _ in gate { break }
                throw SourceGone()
            }
        }
        let running = Task { try await daemon.run() }
        var listening = false
        for _ in 0..<500 where !listening {
            listening = ProxyProcess.isListening(port: nodePort)
            if !listening { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(listening, "the NodePort never opened")
        open.yield()
        await #expect(throws: SourceGone.self) { try await running.value }
        #expect(!ProxyProcess.isListening(port: nodePort), "the listener outlived the source's failure")
    }
}
