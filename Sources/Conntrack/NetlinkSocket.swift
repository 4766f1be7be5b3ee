internal import CConntrack
import Glibc

/// The only unsafe code of this module: a NETLINK_NETFILTER socket through libmnl (pointers to C
/// buffers and a C callback), and setns(2) to open it inside another network namespace. Everything
/// above it works on `[UInt8]` messages.
/// `@unchecked Sendable`: its buffer is used only while `Conntrack` holds its lock.
final class NetlinkSocket: @unchecked Sendable {
    private let socket: OpaquePointer
    private let portID: UInt32
    private var buffer = [UInt8](repeating: 0, count: 65_536)

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
        socket = opened
        portID = mnl_socket_get_portid(opened)
    }

    deinit { mnl_socket_close(socket) }

    /// Sends one request and collects every message of the answer until the dump ends or the kernel
    /// acks. A netlink error in the answer is thrown with its errno.
    func request(_ message: [UInt8], sequence: UInt32) throws(ConntrackError) -> [[UInt8]] {
        let sent = message.withUnsafeBytes { mnl_socket_sendto(socket, $0.baseAddress, $0.count) }
        guard sent == message.count else { throw ConntrackError.system("mnl_socket_sendto", errno) }
        let collector = MessageCollector()
        let context = Unmanaged.passUnretained(collector).toOpaque()
        while true {
            let received = buffer.withUnsafeMutableBytes { mnl_socket_recvfrom(socket, $0.baseAddress, $0.count) }
            guard received > 0 else { throw ConntrackError.system("mnl_socket_recvfrom", errno) }
            let status = buffer.withUnsafeBytes { bytes in
                mnl_cb_run(bytes.baseAddress, Int(received), sequence, portID, { header, data in
                    guard let header, let data else { return MNL_CB_ERROR }
                    let length = Int(header.pointee.nlmsg_len)
                    let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(header), count: length)
                    Unmanaged<MessageCollector>.fromOpaque(data).takeUnretainedValue().messages.append(Array(bytes))
                    return MNL_CB_OK
                }, context)
            }
            if status == MNL_CB_ERROR { throw ConntrackError.netlink(errno) }
            if status == MNL_CB_STOP { return collector.messages }   // NLMSG_DONE, or the ack
        }
    }
}

private final class MessageCollector {
    var messages: [[UInt8]] = []
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
