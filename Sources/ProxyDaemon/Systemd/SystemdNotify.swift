import Glibc
import Synchronization

/// sd_notify(3) without libsystemd: one datagram to the unix socket in `$NOTIFY_SOCKET` (a path, or
/// `@name` in the abstract namespace). A no-op when not started by systemd with `Type=notify`.
public enum SystemdNotify {
    /// Sends `state` (e.g. "READY=1"); returns false when there is no socket or the send failed.
    @discardableResult
    public static func send(_ state: String, socketPath: String? = getenv("NOTIFY_SOCKET").map { String(cString: $0) }) -> Bool {
        guard let socketPath, !socketPath.isEmpty else { return false }
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }   // abstract namespace
        var address = sockaddr_un()
        guard path.count <= MemoryLayout.size(ofValue: address.sun_path) else { return false }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { dst in
            for (i, b) in path.enumerated() { dst[i] = b }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
        }
        return sent == message.count
    }
}

/// Tells systemd the proxy is ready once the first sync is programmed (`Type=notify`), so units
/// ordered after it start with Services already reachable.
final class ReadinessNotifier: SyncObserver {
    private let notified = Mutex(false)
    private let send: @Sendable (String) -> Bool

    init(send: @escaping @Sendable (String) -> Bool = { SystemdNotify.send($0) }) { self.send = send }

    func synced(_ sync: CompletedSync) async {
        let first = notified.withLock { done in defer { done = true }; return !done }
        if first { _ = send("READY=1\nSTATUS=rules programmed") }
    }
}
