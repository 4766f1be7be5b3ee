internal import CConntrack
import Glibc

/// The only unsafe code of this module: a NETLINK_NETFILTER socket through libmnl (raw buffers for
/// send/receive, setsockopt), and setns(2) to open it inside another network namespace. Messages
/// leave this file as `ArraySlice<UInt8>` views of the receive buffer (no copy), so everything above
/// it is plain Swift.
/// `@unchecked Sendable`: its buffer is used only while `Conntrack` holds its lock.
final class NetlinkSocket: @unchecked Sendable {
    /// What the kernel said about one request of a batch.
    enum Outcome: Equatable { case ok, error(Int32) }

    private let socket: OpaquePointer
    private let portID: UInt32
    /// One receive: a dump fills datagrams of up to ~16 KiB (a page-sized skb or more); 64 KiB is
    /// never truncated.
    private var buffer = [UInt8](repeating: 0, count: 65_536)

    /// The socket's receive buffer: the kernel fills it with dump datagrams (and delete acks) faster
    /// than one thread decodes them; a full buffer is an ENOBUFS.
    static let receiveBufferBytes: Int32 = 8 << 20

    private static let nlmsgNoop: UInt16 = 1, nlmsgError: UInt16 = 2, nlmsgDone: UInt16 = 3
    static let dumpInterrupted: UInt16 = 0x10        // NLM_F_DUMP_INTR

    /// Opens and binds the socket, inside `/run/netns/<networkNamespace>` when one is given.
    init(networkNamespace: String?) throws(ConntrackError) {
        let opened: OpaquePointer?
        if let networkNamespace {
            opened = try NetworkNamespace.run(networkNamespace) { mnl_socket_open(NETLINK_NETFILTER) }
        } else {
            opened = mnl_socket_open(NETLINK_NETFILTER)
        }
        guard let opened else { throw ConntrackError.system("mnl_socket_open(NETLINK_NETFILTER)", errno) }
        guard mnl_socket_bind(opened, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let e = errno
            mnl_socket_close(opened)
            throw ConntrackError.system("mnl_socket_bind", e)
        }
        // SO_RCVBUFFORCE passes net.core.rmem_max (with CAP_NET_ADMIN, which we need anyway);
        // without it, SO_RCVBUF gives what rmem_max allows. Failing both keeps the default.
        var size = Self.receiveBufferBytes
        let fd = mnl_socket_get_fd(opened)
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        socket = opened
        portID = mnl_socket_get_portid(opened)
    }

    deinit { mnl_socket_close(socket) }

    /// Sends a dump request and hands each message of the answer to `each` as it arrives, until
    /// NLMSG_DONE. Returns whether the kernel flagged the dump as interrupted (NLM_F_DUMP_INTR: the
    /// table changed under it, so some entries may be missing or repeated). A netlink error is thrown
    /// with its errno; so is ENOBUFS (messages were dropped: the dump is incomplete).
    func dump(_ request: [UInt8], sequence: UInt32, each: (ArraySlice<UInt8>) -> Void) throws(ConntrackError) -> Bool {
        try send(request)
        var interrupted = false
        while true {
            let received = try receive()
            var offset = 0
            while let (header, message) = nextMessage(received, &offset) {
                guard header.sequence == sequence, header.portID == portID || header.portID == 0 else { continue }
                if header.flags & Self.dumpInterrupted != 0 { interrupted = true }
                switch header.type {
                case Self.nlmsgDone: return interrupted
                case Self.nlmsgError:
                    let code = errorCode(message)
                    if code != 0 { throw ConntrackError.netlink(code) }
                    return interrupted
                case Self.nlmsgNoop: continue
                default: each(message)
                }
            }
        }
    }

    /// Sends the requests (each with NLM_F_ACK and sequence `firstSequence + index`) in one datagram
    /// and collects the kernel's answer to each.
    func batch(_ requests: [[UInt8]], firstSequence: UInt32) throws(ConntrackError) -> [Outcome] {
        guard !requests.isEmpty else { return [] }
        try send(requests.flatMap { $0 })
        var outcomes = [Outcome?](repeating: nil, count: requests.count)
        var pending = requests.count
        while pending > 0 {
            let received = try receive()
            var offset = 0
            while let (header, message) = nextMessage(received, &offset) {
                guard header.type == Self.nlmsgError else { continue }
                let index = Int(header.sequence &- firstSequence)
                guard index >= 0, index < requests.count, outcomes[index] == nil else { continue }
                let code = errorCode(message)
                outcomes[index] = code == 0 ? .ok : .error(code)
                pending -= 1
            }
        }
        return outcomes.map { $0 ?? .ok }
    }

    private func send(_ bytes: [UInt8]) throws(ConntrackError) {
        let sent = bytes.withUnsafeBytes { mnl_socket_sendto(socket, $0.baseAddress, $0.count) }
        guard sent == bytes.count else { throw ConntrackError.system("mnl_socket_sendto", errno) }
    }

    /// One datagram into `buffer`; returns its length.
    private func receive() throws(ConntrackError) -> Int {
        while true {
            let received = buffer.withUnsafeMutableBytes { mnl_socket_recvfrom(socket, $0.baseAddress, $0.count) }
            if received > 0 { return received }
            let e = errno
            if received < 0, e == EINTR { continue }
            throw ConntrackError.system("mnl_socket_recvfrom", received == 0 ? EPIPE : e)
        }
    }

    struct Header { var type: UInt16, flags: UInt16, sequence: UInt32, portID: UInt32 }

    /// The netlink message at `offset` of the first `length` bytes of `buffer` (a view, no copy), and
    /// advances `offset`; nil at the end or at a malformed header.
    private func nextMessage(_ length: Int, _ offset: inout Int) -> (Header, ArraySlice<UInt8>)? {
        guard offset + 16 <= length else { return nil }
        let size = Int(u32(offset))
        guard size >= 16, offset + size <= length else { return nil }
        let header = Header(type: u16(offset + 4), flags: u16(offset + 6), sequence: u32(offset + 8), portID: u32(offset + 12))
        let message = buffer[offset..<(offset + size)]
        offset += (size + 3) & ~3
        return (header, message)
    }

    /// The errno of an NLMSG_ERROR message (0 for an ack).
    private func errorCode(_ message: ArraySlice<UInt8>) -> Int32 {
        guard message.count >= 20 else { return EPROTO }
        return -Int32(bitPattern: u32(message.startIndex + 16))
    }

    // Netlink headers are in the host's byte order.
    private func u16(_ i: Int) -> UInt16 { UInt16(buffer[i]) | UInt16(buffer[i + 1]) << 8 }
    private func u32(_ i: Int) -> UInt32 { UInt32(u16(i)) | UInt32(u16(i + 2)) << 16 }
}

/// Entering a network namespace for the duration of a synchronous call.
public enum NetworkNamespace {
    /// Runs `body` on the calling thread inside `/run/netns/<name>` (as `ip netns` makes them) and
    /// returns to the thread's own namespace before returning. Sockets created in `body` stay in
    /// `name`. There must be no suspension point in `body`: the namespace belongs to the thread.
    public static func run<T>(_ name: String, _ body: () throws(ConntrackError) -> T) throws(ConntrackError) -> T {
        let own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard own >= 0 else { throw ConntrackError.system("open /proc/thread-self/ns/net", errno) }
        defer { close(own) }
        let target = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        guard target >= 0 else { throw ConntrackError.system("open /run/netns/\(name)", errno) }
        defer { close(target) }
        guard setns(target, ccon_clone_newnet()) == 0 else { throw ConntrackError.system("setns \(name)", errno) }
        defer {
            // Failing to return would leave this thread (and whatever runs on it next) in the wrong namespace.
            if setns(own, ccon_clone_newnet()) != 0 { fatalError("setns back to the thread's own network namespace failed: errno \(errno)") }
        }
        return try body()
    }
}
