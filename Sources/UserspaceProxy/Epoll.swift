import CLinuxSyscalls
import Glibc

/// The epoll interest flags we use, as words rather than bits.
struct EpollEvents: OptionSet {
    let rawValue: UInt32
    static let readable = EpollEvents(rawValue: EPOLLIN.rawValue)
    static let writable = EpollEvents(rawValue: EPOLLOUT.rawValue)
    static let peerClosedWrite = EpollEvents(rawValue: EPOLLRDHUP.rawValue)
    static let hangUp = EpollEvents(rawValue: EPOLLHUP.rawValue)
    static let error = EpollEvents(rawValue: EPOLLERR.rawValue)
    static let edgeTriggered = EpollEvents(rawValue: EPOLLET.rawValue)
}

/// One epoll instance; every descriptor is registered once, edge-triggered, keyed by its fd.
struct Epoll {
    let fd: Int32

    init() throws(SocketError) {
        fd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard fd >= 0 else { throw SocketError(operation: "epoll_create1", code: errno) }
    }

    func add(_ descriptor: Int32, _ events: EpollEvents) {
        var event = epoll_event()
        event.events = events.rawValue
        event.data.u64 = UInt64(UInt32(bitPattern: descriptor))
        _ = epoll_ctl(fd, EPOLL_CTL_ADD, descriptor, &event)
    }

    func remove(_ descriptor: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(fd, EPOLL_CTL_DEL, descriptor, &event)
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever); returns how many entries of `events` are filled.
    func wait(_ events: inout [epoll_event], timeoutMilliseconds: Int32) -> Int {
        let count = Int32(events.count)
        let n = events.withUnsafeMutableBufferPointer { epoll_wait(fd, $0.baseAddress, count, timeoutMilliseconds) }
        return max(0, Int(n))
    }
}
