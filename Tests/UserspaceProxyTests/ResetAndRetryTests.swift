import Glibc
import Testing
@_spi(Benchmarks) @testable import UserspaceProxy

/// Hostile and unlucky peers: a reset is passed on at once, and one lost SYN does not fail a client.
@Suite struct ResetAndRetryTests {
    /// A listening socket the test accepts from by hand, so it can hold a connection idle.
    final class HeldBackend: @unchecked Sendable {
        let fd: Int32
        let address: ProxyAddress
        init(backlog: Int32 = 16) {
            let fd = TestNet.makeSocket(TestNet.loopback4, .tcp)
            _ = ProxyAddress(ip: TestNet.loopback4, port: 0).withSocketAddress { bind(fd, $0, $1) }
            listen(fd, backlog)
            self.fd = fd
            address = ProxyAddress(ip: TestNet.loopback4, port: TestNet.localPort(fd))
        }
        func accept() throws -> TestSocket {
            let c = Glibc.accept(fd, nil, nil)
            guard c >= 0 else { throw TestFailure("accept: errno \(errno)") }
            var timeout = timeval(tv_sec: 20, tv_usec: 0)
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            return TestSocket(fd: c)
        }
        deinit { close(fd) }
    }

    /// Closes with RST instead of FIN (SO_LINGER 0, then the last close of the socket). The number
    /// is taken over by /dev/null, which the TestSocket closes later.
    static func reset(_ socket: TestSocket) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(socket.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        let null = open("/dev/null", O_RDONLY)
        dup2(null, socket.fd)
        close(null)
    }

    /// What a blocking recv on an idle socket ends with: 0 for a FIN, else errno (EAGAIN: the
    /// 20 s receive timeout passed and nothing came).
    static func recvOutcome(_ socket: TestSocket) -> Int32 {
        var byte: UInt8 = 0
        let n = Glibc.recv(socket.fd, &byte, 1, 0)
        return n < 0 ? errno : 0
    }

    @Test(arguments: [true, false])
    func aResetOnOneSideResetsTheOtherAtOnce(clientResets: Bool) async throws {
        let backend = HeldBackend()
        try await withProxy { proxy in
            let listen = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort())
            proxy.apply([tcpRule("default/held:tcp", listen: listen, backends: [backend.address])])
            let outcome = try await onThread { () -> Int32 in
                let client = try TestNet.connect(to: listen)
                let server = try backend.accept()
                // One byte each way: the relay is established and idle both ways.
                try client.send([1])
                _ = try server.receiveExactly(1)
                try server.send([2])
                _ = try client.receiveExactly(1)
                Self.reset(clientResets ? client : server)
                return Self.recvOutcome(clientResets ? server : client)
            }
            #expect(outcome == ECONNRESET)
            #expect(await eventually { proxy.statistics()["default/held:tcp"]?.connectionsActive == 0 })
        }
    }

    @Test func aOneEndpointServiceIsDialledAgainWithLongerTimeoutsThenReset() async throws {
        // A full accept queue drops SYNs: every dial to it hangs.
        let blackhole = HeldBackend(backlog: 0)
        let filler = try await onThread { try TestNet.connect(to: blackhole.address) }
        defer { _ = filler }
        try await withProxy(tune: { $0.dialTimeout = .milliseconds(20) }) { proxy in
            let listen = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort())
            proxy.apply([tcpRule("default/silent:tcp", listen: listen, backends: [blackhole.address])])
            let outcome = try await onThread { Self.recvOutcome(try TestNet.connect(to: listen)) }
            #expect(outcome == ECONNRESET)
            let stats = try #require(proxy.statistics()["default/silent:tcp"])
            #expect(stats.dialFailures == 4)   // 20, 40, 80, 160 ms
            #expect(stats.dialRetries == 3)
            #expect(stats.connectionsRejected == 1)
        }
    }

    /// The endpoint's queue frees up only after the first dial timed out (its SYN was dropped):
    /// a later, longer dial of the same endpoint reaches it. With one dial per endpoint, the client
    /// of a one-endpoint Service would have been reset.
    @Test func aLostSYNDoesNotFailTheClientOfAOneEndpointService() async throws {
        let backend = HeldBackend(backlog: 0)
        let filler = try await onThread { try TestNet.connect(to: backend.address) }
        // Long steps (1, 2, 4, 8 s): the later dials must still be waiting when the test, however
        // slowly scheduled, has made room.
        try await withProxy(tune: { $0.dialTimeout = .seconds(1) }) { proxy in
            let listen = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort())
            proxy.apply([tcpRule("default/slow:tcp", listen: listen, backends: [backend.address])])
            let client = try await onThread { try TestNet.connect(to: listen) }
            #expect(await eventually { (proxy.statistics()["default/slow:tcp"]?.dialFailures ?? 0) >= 1 })
            // Make room: take the filler off the queue, then the proxy's connection.
            let answered = try await onThread { () -> [UInt8] in
                _ = filler
                let first = try backend.accept()
                _ = first
                let second = try backend.accept()
                try second.send([42])
                return try client.receiveExactly(1)
            }
            #expect(answered == [42])
            #expect(proxy.statistics()["default/slow:tcp"]?.connectionsRejected == 0)
        }
    }
}
