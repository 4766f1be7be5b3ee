import Glibc

/// Starts an OS thread for an event loop. A loop blocks in epoll_wait, which must not happen on
/// Swift's cooperative pool; Foundation's Thread would pull in Foundation (and its memory) for this.
enum LoopThread {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    static func start(_ run: @escaping @Sendable () -> Void) {
        // pthread hands one raw pointer to the new thread: the retained closure box travels in it.
        let context = Unmanaged.passRetained(Body(run)).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { context in
            Unmanaged<Body>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
        precondition(started == 0, "pthread_create failed: \(started)")
        pthread_detach(thread)
    }
}

/// Monotonic nanoseconds, for the loops' deadlines (cheaper than building Durations per event).
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

extension Duration {
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(0, seconds)) &* 1_000_000_000 &+ UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}
