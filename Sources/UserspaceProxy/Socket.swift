import CLinuxSyscalls
import Glibc

// Thin wrappers over the socket, pipe and splice system calls. Raw pointers appear here (buffers the
// kernel reads or fills) and in SocketAddress+sockaddr.swift, nowhere else in the module.

/// The outcome of one read/write/splice on a non-blocking descriptor.
enum IOResult {
    case transferred(Int)
    case endOfFile
    case wouldBlock
    case failed(Int32)
}

struct SocketError: Error, CustomStringConvertible {
    var operation: String
    var code: Int32
    var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

enum Socket {
    private static let nonBlocking = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    private static let spliceMove: UInt32 = 1      // SPLICE_F_MOVE
    private static let spliceNonBlock: UInt32 = 2  // SPLICE_F_NONBLOCK (never SPLICE_F_MORE: it delays small writes)
    private static let setPipeSize: Int32 = 1031    // F_SETPIPE_SZ

    /// A bound, non-blocking socket sharing its port with the other loops' (SO_REUSEPORT);
    /// listening already when TCP, so connections queue before its loop first looks.
    static func listener(_ proto: ProxyProtocol, at address: ProxyAddress, backlog: Int32) throws(SocketError) -> Int32 {
        let type = proto == .tcp ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)
        let fd = socket(address.ip.family, type | nonBlocking, 0)
        guard fd >= 0 else { throw SocketError(operation: "socket", code: errno) }
        setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1)
        if address.ip.isIPv6 { setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
        if proto == .tcp { // both inherited by every accepted socket
            setNoDelay(fd)
            setKeepAlive(fd)
        }
        // A wildcard UDP listener must know where each datagram was sent to, to reply from there.
        if proto == .udp { _ = clinux_report_destination_address(fd, address.ip.family) }
        let bound = address.withSocketAddress { bind(fd, $0, $1) }
        guard bound == 0 else {
            let code = errno
            Glibc.close(fd)
            throw SocketError(operation: "bind", code: code)
        }
        if proto == .tcp, listen(fd, backlog) != 0 {
            let code = errno
            Glibc.close(fd)
            throw SocketError(operation: "listen", code: code)
        }
        return fd
    }

    enum AcceptResult {
        case accepted(Int32, peer: ProxyAddress?)
        case wouldBlock
        case failed(Int32)
    }

    static func accept(_ listener: Int32, wantPeer: Bool) -> AcceptResult {
        let fd: Int32
        var peer: ProxyAddress?
        if wantPeer {
            (fd, peer) = withPeerAddressStorage { clinux_accept4(listener, $0, $1, nonBlocking) }
        } else {
            fd = clinux_accept4(listener, nil, nil, nonBlocking)
        }
        if fd >= 0 { return .accepted(fd, peer: peer) }
        let code = errno
        return code == EAGAIN || code == EWOULDBLOCK ? .wouldBlock : .failed(code)
    }

    enum DialResult {
        case connected(Int32)
        case inProgress(Int32)
        case failed(Int32)
    }

    /// Starts a non-blocking TCP connect (TCP_NODELAY already set) or, for UDP, connects at once.
    static func dial(_ proto: ProxyProtocol, to address: ProxyAddress) -> DialResult {
        let type = proto == .tcp ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)
        let fd = socket(address.ip.family, type | nonBlocking, 0)
        guard fd >= 0 else { return .failed(errno) }
        if proto == .tcp {
            setNoDelay(fd)
            setKeepAlive(fd)
        }
        let result = address.withSocketAddress { connect(fd, $0, $1) }
        if result == 0 { return .connected(fd) }
        let code = errno
        if code == EINPROGRESS { return .inProgress(fd) }
        Glibc.close(fd)
        return .failed(code)
    }

    /// The outcome of a finished non-blocking connect: 0 or the errno it failed with.
    static func pendingError(_ fd: Int32) -> Int32 {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length) != 0 { return errno }
        return code
    }

    static func setNoDelay(_ fd: Int32) {
        setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
    }

    /// TCP keepalive probes after 15 s idle, every 15 s (as Go's net package sets them, which
    /// kube-proxy's userspace mode used): a peer that vanished without FIN or RST is found in
    /// minutes, not at the relay's idle timeout.
    static func setKeepAlive(_ fd: Int32) {
        setOption(fd, SOL_SOCKET, SO_KEEPALIVE, 1)
        setOption(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, 15)
        setOption(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, 15)
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var value = value
        _ = setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Closes with SO_LINGER 0, so the peer gets a RST instead of a FIN.
    static func reset(_ fd: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        Glibc.close(fd)
    }

    static func close(_ fd: Int32) {
        Glibc.close(fd)
    }

    static func shutdownWrite(_ fd: Int32) {
        _ = shutdown(fd, Int32(SHUT_WR))
    }

    /// Moves up to `count` bytes between a socket and a pipe without copying them to user space.
    static func splice(from source: Int32, to sink: Int32, count: Int) -> IOResult {
        let n = clinux_splice(source, sink, count, spliceMove | spliceNonBlock)
        if n > 0 { return .transferred(n) }
        if n == 0 { return .endOfFile }
        let code = errno
        return code == EAGAIN ? .wouldBlock : .failed(code)
    }

    /// A non-blocking pipe pair sized to `size` bytes, or nil when none can be made (EMFILE…).
    static func pipe(size: Int) -> (read: Int32, write: Int32)? {
        var fds: [Int32] = [-1, -1]
        guard clinux_pipe2(&fds, O_NONBLOCK | O_CLOEXEC) == 0 else { return nil }
        if size != 65536 { _ = fcntl(fds[1], setPipeSize, Int32(size)) }
        return (fds[0], fds[1])
    }

    static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(RLIMIT_NOFILE_VALUE, &limit)
    }

    /// splice and send on a socket whose peer has gone raise SIGPIPE; the proxy wants EPIPE instead.
    static func ignoreBrokenPipeSignal() {
        _ = signal(SIGPIPE, SIG_IGN)
    }

    private static var RLIMIT_NOFILE_VALUE: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }
}

private func result(_ n: Int) -> IOResult {
    if n > 0 { return .transferred(n) }
    if n == 0 { return .endOfFile }
    let code = errno
    return code == EAGAIN || code == EWOULDBLOCK ? .wouldBlock : .failed(code)
}

/// Fixed-size byte storage for the copy path (relay without splice, UDP datagrams).
/// Owns raw memory because read(2)/recv(2) fill it directly.
final class ByteBuffer {
    let capacity: Int
    private let base: UnsafeMutableRawPointer
    /// Bytes [head, tail) are filled and not yet written out.
    @exclusivity(unchecked) private(set) var head = 0
    @exclusivity(unchecked) private(set) var tail = 0

    init(capacity: Int) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    var filled: Int { tail - head }
    var space: Int { capacity - tail }

    func clear() {
        head = 0
        tail = 0
    }

    /// Takes over what `other` still holds (filled ≤ capacity).
    func fill(from other: ByteBuffer) {
        let count = min(other.filled, capacity)
        (base).copyMemory(from: other.base + other.head, byteCount: count)
        head = 0
        tail = count
    }

    func readSome(from fd: Int32) -> IOResult {
        let r = result(Glibc.recv(fd, base + tail, capacity - tail, 0))
        if case .transferred(let n) = r { tail += n }
        return r
    }

    func writeSome(to fd: Int32) -> IOResult {
        let r = result(Glibc.send(fd, base + head, tail - head, Int32(MSG_NOSIGNAL)))
        if case .transferred(let n) = r {
            head += n
            if head == tail { head = 0; tail = 0 }
        }
        return r
    }

    /// One datagram from an unconnected socket, with its sender and the address it was sent to
    /// (reported on listeners, see `Socket.listener`). Replaces the contents.
    func receiveDatagram(from fd: Int32) -> (IOResult, peer: ProxyAddress?, destination: IPAddress?) {
        head = 0
        tail = 0
        let (n, peer, destination) = withDatagramAddressStorage { clinux_receive_datagram(fd, base, capacity, $0, $1) }
        let r = n < 0 ? result(n) : IOResult.transferred(n)
        if case .transferred(let count) = r { tail = count }
        return (r, peer, destination)
    }

    /// One datagram from a connected socket. Replaces the contents.
    func receiveDatagram(fromConnected fd: Int32) -> IOResult {
        head = 0
        tail = 0
        let n = Glibc.recv(fd, base, capacity, 0)
        let r = n < 0 ? result(n) : IOResult.transferred(n)
        if case .transferred(let count) = r { tail = count }
        return r
    }

    func sendDatagram(to fd: Int32) -> IOResult {
        result(Glibc.send(fd, base, tail, Int32(MSG_NOSIGNAL)))
    }

    /// Sends the contents to `address` from `source` (nil: the kernel picks, as for sendto).
    func sendDatagram(from fd: Int32, to address: ProxyAddress, source: IPAddress?) -> IOResult {
        var storage = source?.socketAddressStorage ?? sockaddr_storage()
        return result(address.withSocketAddress { clinux_send_datagram(fd, base, tail, $0, $1, &storage) })
    }
}
