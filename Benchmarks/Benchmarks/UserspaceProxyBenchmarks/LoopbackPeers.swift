import Foundation
import Glibc
import UserspaceProxy

// Blocking loopback peers for the relay benchmarks: a backend thread and a client socket.

enum Loopback {
    static func socketFD() -> Int32 {
        socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    }

    static func sockaddr(port: UInt16) -> sockaddr_in {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        sin.sin_addr.s_addr = inet_addr("127.0.0.1")
        return sin
    }

    /// A listening socket on an ephemeral port; returns (fd, port).
    static func listener() -> (Int32, UInt16) {
        let fd = socketFD()
        var sin = sockaddr(port: 0)
        _ = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 1024)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &sin) { $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, UInt16(bigEndian: sin.sin_port))
    }

    static func unusedPort() -> UInt16 {
        let (fd, port) = listener()
        close(fd)
        return port
    }

    static func connect(port: UInt16) -> Int32 {
        let fd = socketFD()
        var sin = sockaddr(port: port)
        let r = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        precondition(r == 0, "connect: \(errno)")
        return fd
    }

    /// Reads until EOF, discarding; returns the byte count.
    static func drain(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var total = 0
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n <= 0 { return total }
            total += n
        }
    }

    static func sendAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < buffer.count {
            let n = send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
            precondition(n > 0, "send: \(errno)")
            offset += n
        }
    }
}

/// A backend thread: `.sink` reads each connection to EOF then closes it; `.closeAtOnce` closes on accept.
final class LoopbackBackend: Sendable {
    enum Behaviour: Sendable { case sink, closeAtOnce }
    let port: UInt16

    init(_ behaviour: Behaviour) {
        let (fd, port) = Loopback.listener()
        self.port = port
        Thread.detachNewThread {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { continue }
                if behaviour == .sink { _ = Loopback.drain(client, into: buffer) }
                close(client)
            }
        }
    }
}
