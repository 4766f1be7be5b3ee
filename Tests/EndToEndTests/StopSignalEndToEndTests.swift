import EndToEndSupport
import Foundation
import Glibc
import Testing

/// SIGTERM drains open relays for the grace period; a second SIGTERM during that drain exits at once.
@Suite struct StopSignalEndToEndTests {
    @Test func aSecondSignalForcesTheExitWhileConnectionsDrain() async throws {
        // A backend that listens and never accepts: the relay's dial completes in its backlog and
        // the connection stays open and silent, so the drain would wait its whole grace period.
        let backend = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(backend) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(backend, $0, length) == 0 && listen(backend, 16) == 0 && getsockname(backend, $0, &length) == 0 }
        }
        try #require(listening)
        let backendPort = UInt16(bigEndian: address.sin_port)

        let nodePort = freeNodePort(), metricsPort = try freeTCPPort()
        let proxy = try ProxyProcess(config: Manifests.config + "\nmetricsBindAddress: 127.0.0.1:\(metricsPort)\n",
                                     manifests: Manifests.service("web", nodePort: nodePort)
                                         + Manifests.slice("web-a", service: "web", backendPort: Int(backendPort)))
        defer { proxy.kill() }
        #expect(await poll({ ProxyProcess.isListening(port: nodePort) }, until: { $0 }), "\(proxy.stderr)")
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_addr.s_addr = inet_addr("127.0.0.1")
        target.sin_port = nodePort.bigEndian
        let connected = withUnsafePointer(to: &target) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        try #require(connected)
        // The relay is up (the status page counts it active; the listening probe above may count too) before the signals.
        let relaying: (String) -> Bool = { $0.contains("connections: ") && !$0.contains("opened, 0 active") }
        let active = await poll({ httpBody(port: metricsPort, path: "/status") ?? "" }, until: relaying)
        #expect(relaying(active), "\(active)")

        kill(proxy.process.processIdentifier, SIGTERM)
        #expect(await poll({ proxy.stderr }, until: { $0.contains("draining open connections") }).contains("draining open connections"))
        kill(proxy.process.processIdentifier, SIGTERM)
        proxy.process.waitUntilExit()
        // Forced: status 1 (a finished drain exits 0, after the 5 s grace period).
        #expect(proxy.process.terminationStatus == 1, "\(proxy.stderr)")
        #expect(proxy.stderr.contains("second stop signal"), "\(proxy.stderr)")
    }
}
