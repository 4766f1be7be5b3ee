import Foundation
import Glibc
@testable import ProxyDaemon
import Testing

/// The HTTP servers face the network (health check node ports) and share the proxy's descriptors:
/// idle connections are closed, and connections beyond the cap are refused at once.
@Suite struct HTTPServerLimitTests {
    /// A raw TCP connection to 127.0.0.1:port with a 20 s receive timeout.
    static func connect(_ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
        return fd
    }

    /// What a blocking recv ends with: 0 when the server closed the connection, else errno
    /// (EAGAIN: 20 s passed and the server kept it open).
    static func waitForClose(_ fd: Int32) async -> Int32 {
        await withCheckedContinuation { c in
            Thread.detachNewThread {
                var buffer = [UInt8](repeating: 0, count: 4096)
                var n: Int
                repeat { n = recv(fd, &buffer, buffer.count, 0) } while n > 0
                c.resume(returning: n == 0 ? 0 : errno)
            }
        }
    }

    @Test func aConnectionThatSendsNothingIsClosed() async throws {
        let server = try await HTTPServer.start(host: "127.0.0.1", port: 0, limits: .init(idleTimeout: .milliseconds(200))) { _ in
            HTTPResponse(status: 200, body: "ok\n")
        }
        let fd = try Self.connect(server.port)
        defer { close(fd) }
        #expect(await Self.waitForClose(fd) == 0)
        // A request that never ends (a header line and no blank line) is closed the same way.
        let partial = try Self.connect(server.port)
        defer { close(partial) }
        _ = "GET /healthz HTTP/1.1\r\nHost: x\r\n".withCString { send(partial, $0, strlen($0), 0) }
        #expect(await Self.waitForClose(partial) == 0)
        await server.close()
    }

    @Test func connectionsBeyondTheCapAreClosedAtOnce() async throws {
        let server = try await HTTPServer.start(host: "127.0.0.1", port: 0, limits: .init(idleTimeout: .seconds(60), maxConnections: 2)) { _ in
            HTTPResponse(status: 200, body: "ok\n")
        }
        // Three connections: the server may take them in any order, so whichever comes third is the
        // one closed. Wait until one is, then check that the other two are still open.
        let fds = try (0..<3).map { _ in try Self.connect(server.port) }
        func closedOnes() -> [Int32] {
            fds.filter { fd in
                var byte: UInt8 = 0
                return recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) == 0
            }
        }
        var closed: [Int32] = []
        try await eventually {
            closed = closedOnes()
            return !closed.isEmpty
        }
        #expect(closed.count == 1)
        let held = fds.filter { !closed.contains($0) }
        for fd in closed { close(fd) }
        // One held connection goes: a new client is served again.
        close(held[0])
        var served = false
        try await eventually {
            served = (try? await httpGet("http://127.0.0.1:\(server.port)/x"))?.status == 200
            return served
        }
        #expect(served)
        close(held[1])
        await server.close()
    }
}
