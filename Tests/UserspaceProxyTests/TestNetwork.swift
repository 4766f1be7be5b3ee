import Glibc
import Synchronization
@_spi(Benchmarks) @testable import UserspaceProxy

// Blocking sockets for the test side (clients and backends), each on its own thread so that the
// Swift concurrency pool never blocks. Every socket has a receive timeout: a broken proxy fails a
// test instead of hanging it.

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs blocking work on a fresh thread and awaits its result.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        LoopThread.start {
            do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
        }
    }
}

enum TestNet {
    static let loopback4 = IPAddress("127.0.0.1")!
    static let loopback6 = IPAddress("::1")!

    /// A port the kernel just handed out and that nobody listens on now (bound, then closed).
    static func unusedPort(_ ip: IPAddress = loopback4, _ proto: ProxyProtocol = .tcp) -> UInt16 {
        let fd = makeSocket(ip, proto)
        defer { close(fd) }
        _ = ProxyAddress(ip: ip, port: 0).withSocketAddress { bind(fd, $0, $1) }
        return localPort(fd)
    }

    static func makeSocket(_ ip: IPAddress, _ proto: ProxyProtocol) -> Int32 {
        let type = proto == .tcp ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)
        let fd = socket(ip.family, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    static func localPort(_ fd: Int32) -> UInt16 {
        let (_, address) = withPeerAddressStorage { getsockname(fd, $0, $1) }
        return address!.port
    }

    static func connect(to address: ProxyAddress) throws -> TestSocket {
        let fd = makeSocket(address.ip, .tcp)
        let r = address.withSocketAddress { Glibc.connect(fd, $0, $1) }
        guard r == 0 else {
            let code = errno
            close(fd)
            throw TestFailure("connect \(address): errno \(code)")
        }
        return TestSocket(fd: fd)
    }

    /// Whether a TCP connect to `address` is refused (nobody listens).
    static func isRefused(_ address: ProxyAddress) -> Bool {
        let fd = makeSocket(address.ip, .tcp)
        defer { close(fd) }
        let r = address.withSocketAddress { Glibc.connect(fd, $0, $1) }
        return r != 0 && errno == ECONNREFUSED
    }
}

/// A connected blocking TCP socket.
final class TestSocket: @unchecked Sendable {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestFailure("send: errno \(errno)") }
            offset += n
        }
    }

    /// Up to `max` bytes; empty at EOF.
    func receive(max: Int = 65536) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max)
        let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, max, 0) }
        guard n >= 0 else { throw TestFailure("recv: errno \(errno)") }
        return Array(buffer.prefix(n))
    }

    func receiveExactly(_ count: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count {
            let chunk = try receive(max: count - bytes.count)
            guard !chunk.isEmpty else { throw TestFailure("EOF after \(bytes.count) of \(count) bytes") }
            bytes += chunk
        }
        return bytes
    }

    func receiveToEnd() throws -> [UInt8] {
        var bytes: [UInt8] = []
        while true {
            let chunk = try receive()
            if chunk.isEmpty { return bytes }
            bytes += chunk
        }
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }
}

/// A hash of a byte stream, eight bytes at a time (fast enough for 64 MiB in a debug build),
/// independent of how the stream is cut into chunks.
struct Checksum: Equatable, Sendable {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    private(set) var count = 0
    private var pending: UInt64 = 0
    private var pendingBytes = 0

    private mutating func mix(_ word: UInt64) {
        value = (value ^ word) &* 0x100_0000_01b3
        value ^= value >> 29
    }

    private mutating func addByte(_ byte: UInt8) {
        pending |= UInt64(byte) << (8 * UInt64(pendingBytes))
        pendingBytes += 1
        if pendingBytes == 8 {
            mix(pending)
            pending = 0
            pendingBytes = 0
        }
    }

    mutating func add(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var i = 0
            while pendingBytes != 0, i < raw.count { addByte(raw[i]); i += 1 }
            while i + 8 <= raw.count { mix(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)); i += 8 }
            while i < raw.count { addByte(raw[i]); i += 1 }
        }
        count += bytes.count
    }
}

/// A TCP backend on its own thread. `.identify` answers every connection with its name and
/// closes; `.echo` sends back everything until the client's FIN, then closes.
final class TCPBackend: @unchecked Sendable {
    enum Behaviour: Sendable {
        case identify(String)
        case echo
    }

    let address: ProxyAddress
    private let fd: Int32
    private let behaviour: Behaviour
    /// Checksums of what each echo connection received, in order of completion.
    let received = Mutex<[Checksum]>([])
    let accepted = Atomic<Int>(0)

    init(_ behaviour: Behaviour, ip: IPAddress = TestNet.loopback4) throws {
        self.behaviour = behaviour
        let listenFD = TestNet.makeSocket(ip, .tcp)
        guard ProxyAddress(ip: ip, port: 0).withSocketAddress({ bind(listenFD, $0, $1) }) == 0, listen(listenFD, 128) == 0 else {
            throw TestFailure("backend bind/listen: errno \(errno)")
        }
        fd = listenFD
        address = ProxyAddress(ip: ip, port: TestNet.localPort(listenFD))
        LoopThread.start { [self] in acceptLoop() }
    }

    private func acceptLoop() {
        while true {
            let client = Glibc.accept(fd, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                // stop() shut the socket down; closing it only here means its number cannot be
                // reused by another test while this thread might still call accept on it.
                close(fd)
                return
            }
            accepted.wrappingAdd(1, ordering: .relaxed)
            let connection = TestSocket(fd: client)
            switch behaviour {
            case .identify(let name):
                try? connection.send(Array(name.utf8))
            case .echo:
                LoopThread.start { [self] in echo(connection) }
            }
        }
    }

    private func echo(_ connection: TestSocket) {
        var checksum = Checksum()
        while let chunk = try? connection.receive(), !chunk.isEmpty {
            checksum.add(chunk)
            guard (try? connection.send(chunk)) != nil else { break }
        }
        received.withLock { $0.append(checksum) }
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
    }
}

/// A UDP backend that answers each datagram with its name, a colon and the datagram.
final class UDPBackend: @unchecked Sendable {
    let address: ProxyAddress
    private let fd: Int32

    init(name: String, ip: IPAddress = TestNet.loopback4) throws {
        let fd = TestNet.makeSocket(ip, .udp)
        guard ProxyAddress(ip: ip, port: 0).withSocketAddress({ bind(fd, $0, $1) }) == 0 else {
            throw TestFailure("udp bind: errno \(errno)")
        }
        self.fd = fd
        address = ProxyAddress(ip: ip, port: TestNet.localPort(fd))
        LoopThread.start {
            var buffer = [UInt8](repeating: 0, count: 2048)
            while true {
                let (n, peer) = withPeerAddressStorage { sa, len in
                    buffer.withUnsafeMutableBytes { Glibc.recvfrom(fd, $0.baseAddress, 2048, 0, sa, len) }
                }
                if n < 0, errno == EAGAIN || errno == EINTR { continue }
                guard n > 0, let peer else {
                    close(fd) // after stop(): see TCPBackend.acceptLoop
                    return
                }
                let reply = Array("\(name):".utf8) + buffer.prefix(n)
                _ = reply.withUnsafeBytes { bytes in
                    peer.withSocketAddress { Glibc.sendto(fd, bytes.baseAddress, bytes.count, 0, $0, $1) }
                }
            }
        }
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
    }
}

/// A UDP client: sends to the service address and reports who answered.
final class UDPClient: @unchecked Sendable {
    let fd: Int32
    init(ip: IPAddress = TestNet.loopback4) {
        fd = TestNet.makeSocket(ip, .udp)
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
    deinit { close(fd) }

    func send(_ text: String, to address: ProxyAddress) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { b in address.withSocketAddress { Glibc.sendto(fd, b.baseAddress, b.count, 0, $0, $1) } }
    }

    /// The next datagram and its sender, or nil after the receive timeout.
    func receive() -> (String, ProxyAddress)? {
        var buffer = [UInt8](repeating: 0, count: 2048)
        let (n, peer) = withPeerAddressStorage { sa, len in
            buffer.withUnsafeMutableBytes { Glibc.recvfrom(fd, $0.baseAddress, 2048, 0, sa, len) }
        }
        guard n >= 0, let peer else { return nil }
        return (String(decoding: buffer.prefix(n), as: UTF8.self), peer)
    }
}
