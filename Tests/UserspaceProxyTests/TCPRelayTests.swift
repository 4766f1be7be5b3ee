import Glibc
import Synchronization
import Testing
@_spi(Benchmarks) @testable import UserspaceProxy

@Suite struct TCPRelayTests {
    @Test func rotatesExactlyOverThreeBackends() async throws {
        let backends = try (0..<3).map { try TCPBackend(.identify("b\($0)")) }
        defer { backends.forEach { $0.stop() } }
        try await withProxy { proxy in
            let listen = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort())
            #expect(proxy.apply([tcpRule("default/web:http", listen: listen, backends: backends.map(\.address))]).isEmpty)
            let answers = try await onThread { try (0..<9).map { _ in try whoAnswers(listen) } }
            #expect(answers == ["b0", "b1", "b2", "b0", "b1", "b2", "b0", "b1", "b2"])
            let stats = try #require(proxy.statistics()["default/web:http"])
            #expect(stats.connectionsOpened == 9)
            // Bytes are counted after they are sent on, so the client may have read them first: poll.
            #expect(await eventually { proxy.statistics()["default/web:http"]?.bytesBackendToClient == 18 })
            #expect(stats.dialFailures == 0)
            // Every relay ends once both sides have closed.
            #expect(await eventually { proxy.statistics()["default/web:http"]?.connectionsActive == 0 })
        }
    }

    @Test func movesOnWhenADialTimesOut() async throws {
        // A listener whose accept queue is full drops further SYNs: a dial to it hangs.
        let blackhole = TestNet.makeSocket(TestNet.loopback4, .tcp)
        defer { close(blackhole) }
        _ = ProxyAddress(ip: TestNet.loopback4, port: 0).withSocketAddress { bind(blackhole, $0, $1) }
        listen(blackhole, 0)
        let silent = ProxyAddress(ip: TestNet.loopback4, port: TestNet.localPort(blackhole))
        let filler = try await onThread { try TestNet.connect(to: silent) } // backlog 0 holds one
        defer { _ = filler }
        let alive = try TCPBackend(.identify("alive"))
        defer { alive.stop() }
        try await withProxy(tune: { $0.dialTimeout = .milliseconds(200) }) { proxy in
            let listen = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort())
            proxy.apply([tcpRule("default/slow:http", listen: listen, backends: [silent, alive.address])])
            #expect(try await onThread { try whoAnswers(listen) } == "alive")
            let stats = try #require(proxy.statistics()["default/slow:http"])
            #expect(stats.dialFailures == 1)
            #expect(stats.dialRetries == 1)
        }
    }

    @Test func skipsADeadBackend() async throws {
        let alive = try TCPBackend(.identify("alive"))
        defer { alive.stop() }
        let dead = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort())
        try await withProxy { proxy in
            let listen = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort())
            proxy.apply([tcpRule("default/flaky:http", listen: listen, backends: [dead, alive.address])])
            let answers = try await onThread { try (0..<4).map { _ in try whoAnswers(listen) } }
            #expect(answers == ["alive", "alive", "alive", "alive"])
            let stats = try #require(proxy.statistics()["default/flaky:http"])
            // Round-robin starts on the dead one every other connection.
            #expect(stats.dialFailures == 2)
            #expect(stats.dialRetries == 2)
            #expect(stats.connectionsRejected == 0)
        }
    }

    @Test func resetsTheClientWhenNoBackendAnswers() async throws {
        let dead = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort())
        try await withProxy { proxy in
            let listen = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort())
            proxy.apply([
                tcpRule("default/dead:http", listen: listen, backends: [dead]),
            ])
            let outcome = try await onThread { () -> Int32 in
                let socket = try TestNet.connect(to: listen)
                var byte: UInt8 = 0
                return Glibc.recv(socket.fd, &byte, 1, 0) < 0 ? errno : 0
            }
            #expect(outcome == ECONNRESET)
            #expect(proxy.statistics()["default/dead:http"]?.connectionsRejected == 1)
        }
    }

    @Test(arguments: [TestNet.loopback4, TestNet.loopback6])
    func relays64MiBIntactBothWaysWithHalfClose(ip: IPAddress) async throws {
        let backend = try TCPBackend(.echo, ip: ip)
        defer { backend.stop() }
        try await withProxy { proxy in
            let listen = ProxyAddress(ip: ip, port: TestNet.unusedPort(ip))
            proxy.apply([tcpRule("default/bulk:tcp", listen: listen, backends: [backend.address])])
            let size = 64 << 20
            let socket = try await onThread { try TestNet.connect(to: listen) }
            // The client writes everything then shuts down its write side; meanwhile it reads the
            // echo until the backend's close arrives through the proxy.
            let sent = Mutex(Checksum())
            async let writer: Void = onThread {
                var state: UInt64 = 0x9E37_79B9_7F4A_7C15
                var checksum = Checksum()
                var chunk = [UInt8](repeating: 0, count: 1 << 16)
                for _ in 0..<(size / chunk.count) {
                    chunk.withUnsafeMutableBytes { raw in
                        for offset in stride(from: 0, to: raw.count, by: 8) {
                            state ^= state << 13; state ^= state >> 7; state ^= state << 17
                            raw.storeBytes(of: state, toByteOffset: offset, as: UInt64.self)
                        }
                    }
                    checksum.add(chunk)
                    try socket.send(chunk)
                }
                socket.shutdownWrite()
                sent.withLock { $0 = checksum }
            }
            let echoed = try await onThread { () -> Checksum in
                var checksum = Checksum()
                while true {
                    let chunk = try socket.receive()
                    if chunk.isEmpty { return checksum }
                    checksum.add(chunk)
                }
            }
            try await writer
            let expected = sent.withLock { $0 }
            #expect(expected.count == size)
            #expect(backend.received.withLock { $0 } == [expected])
            #expect(echoed == expected)
            #expect(await eventually {
                guard let stats = proxy.statistics()["default/bulk:tcp"] else { return false }
                return stats.bytesClientToBackend == UInt64(size) && stats.bytesBackendToClient == UInt64(size)
            })
        }
    }

    @Test func worksOverIPv6() async throws {
        let backends = try (0..<2).map { try TCPBackend(.identify("v6-\($0)"), ip: TestNet.loopback6) }
        defer { backends.forEach { $0.stop() } }
        try await withProxy { proxy in
            let listen = ProxyAddress(ip: TestNet.loopback6, port: TestNet.unusedPort(TestNet.loopback6))
            #expect(proxy.apply([tcpRule("default/v6:http", listen: listen, backends: backends.map(\.address))]).isEmpty)
            let answers = try await onThread { try (0..<4).map { _ in try whoAnswers(listen) } }
            #expect(answers == ["v6-0", "v6-1", "v6-0", "v6-1"])
        }
    }
}

@Suite struct SessionAffinityTests {
    @Test func aClientSticksToItsBackendUntilIdleLongerThanTheTimeout() async throws {
        let backends = try (0..<3).map { try TCPBackend(.identify("b\($0)")) }
        defer { backends.forEach { $0.stop() } }
        let clock = ManualClock()
        try await withProxy(clock: clock) { proxy in
            let listen = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort())
            proxy.apply([tcpRule("default/sticky:http", listen: listen, backends: backends.map(\.address), affinity: .seconds(10800))])
            let first = try await onThread { try (0..<6).map { _ in try whoAnswers(listen) } }
            #expect(first == Array(repeating: "b0", count: 6))
            clock.advance(by: .seconds(10801))
            let afterIdle = try await onThread { try (0..<3).map { _ in try whoAnswers(listen) } }
            #expect(afterIdle == ["b1", "b1", "b1"])
        }
    }
}
