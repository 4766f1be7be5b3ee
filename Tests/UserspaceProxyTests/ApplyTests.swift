import Testing
@_spi(Benchmarks) @testable import UserspaceProxy

@Suite struct ApplyTests {
    @Test func opensNewPortsClosesRemovedOnesAndKeepsUnrelatedRelays() async throws {
        let echo = try TCPBackend(.echo)
        let named = try TCPBackend(.identify("web"))
        let other = try TCPBackend(.identify("other"))
        defer { [echo, named, other].forEach { $0.stop() } }
        try await withProxy { proxy in
            let echoPort = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort())
            let webPort = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort())
            let echoRule = tcpRule("default/echo:tcp", listen: echoPort, backends: [echo.address])
            let webRule = tcpRule("default/web:http", listen: webPort, backends: [named.address])
            #expect(proxy.apply([echoRule]).isEmpty)
            #expect(TestNet.isRefused(webPort))

            let relay = try await onThread { () -> TestSocket in
                let socket = try TestNet.connect(to: echoPort)
                try socket.send(Array("before".utf8))
                guard try socket.receiveExactly(6) == Array("before".utf8) else { throw TestFailure("no echo") }
                return socket
            }

            // A new rule: its port accepts as soon as apply returns.
            #expect(proxy.apply([echoRule, webRule]).isEmpty)
            #expect(try await onThread { try whoAnswers(webPort) } == "web")

            // Its endpoints change: the swap is seen by the next connection.
            var changed = webRule
            changed.backends = [other.address]
            proxy.apply([echoRule, changed])
            #expect(try await onThread { try whoAnswers(webPort) } == "other")

            // Removed: the port is closed when apply returns.
            proxy.apply([echoRule])
            #expect(TestNet.isRefused(webPort))
            #expect(proxy.statistics().keys.sorted() == ["default/echo:tcp"])

            // None of that touched the relay opened first.
            try await onThread {
                try relay.send(Array("after".utf8))
                guard try relay.receiveExactly(5) == Array("after".utf8) else { throw TestFailure("relay cut") }
            }
            #expect(proxy.statistics()["default/echo:tcp"]?.connectionsActive == 1)
        }
    }

    @Test func reportsAddressesItCannotOpen() async throws {
        try await withProxy { proxy in
            let port = TestNet.unusedPort()
            let taken = ProxyAddress(ip: TestNet.loopback4, port: port)
            let first = tcpRule("a/one:p", listen: taken, backends: [])
            let second = tcpRule("a/two:p", listen: taken, backends: [])
            let notLocal = tcpRule("a/three:p", listen: try ProxyAddress(host: "192.0.2.1", port: port), backends: [])
            let failures = proxy.apply([first, second, notLocal])
            #expect(failures.map(\.rule).sorted() == ["a/three:p", "a/two:p"])
            #expect(!TestNet.isRefused(taken))
        }
    }

    @Test func shutdownClosesListeners() async throws {
        var tuning = ProxyTuning()
        tuning.eventLoops = 2
        let proxy = try UserspaceProxy(tuning: tuning, logger: .init(label: "test"))
        let listen = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort())
        proxy.apply([tcpRule("a/b:c", listen: listen, backends: [])])
        #expect(!TestNet.isRefused(listen))
        await proxy.shutdown(gracePeriod: .seconds(1))
        #expect(TestNet.isRefused(listen))
        #expect(proxy.apply([tcpRule("a/b:c", listen: listen, backends: [])]).isEmpty)
        #expect(TestNet.isRefused(listen))
    }
}
