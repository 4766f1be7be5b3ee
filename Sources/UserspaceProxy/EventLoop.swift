import Dispatch
import Glibc
import Logging
import Synchronization
import CLinuxSyscalls

/// A listening address of one protocol; the unit that `apply` opens, closes and points at a rule.
struct ListenerKey: Hashable, Sendable {
    var `protocol`: ProxyProtocol
    var address: ProxyAddress
}

/// What other threads ask of a loop. Descriptors travel already bound and listening.
enum LoopCommand: Sendable {
    case open(fd: Int32, key: ListenerKey, rule: LiveRule)
    case close(ListenerKey)
    case retarget(ListenerKey, LiveRule)
    /// Endpoint lists may have changed: drop UDP flows whose endpoint is gone (what removing
    /// stale conntrack entries does for the kernel dataplanes), so the next datagram picks again.
    case dropStaleFlows
    /// Signalled once every command before it has been carried out.
    case barrier(DispatchSemaphore)
    /// Stop accepting; let relays finish until the deadline (monotonic ns), then close them.
    case drain(deadline: UInt64)
}

/// What a descriptor registered with the loop belongs to.
enum Registration {
    case wakeup
    case tcpListener(TCPListener)
    case udpListener(UDPListener)
    case relay(TCPRelay)
    case udpFlow(UDPFlow)
}

/// One thread with its own epoll instance. Everything but `inbox`/`exit` is touched only on that
/// thread (hence @unchecked Sendable); other threads talk to it through commands and an eventfd.
final class EventLoop: @unchecked Sendable {
    let tuning: ProxyTuning
    let logger: Logger
    private let epoll: Epoll
    private let wakeFD: Int32
    private let inbox = Mutex<[LoopCommand]>([])
    private let exit = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// Monotonic ns, read once per wake-up.
    @exclusivity(unchecked) private(set) var now: UInt64 = monotonicNanoseconds()
    /// Indexed by descriptor: descriptors are small, dense integers.
    @exclusivity(unchecked) private var registrations: [Registration?] = []
    @exclusivity(unchecked) private var listeners: [ListenerKey: Int32] = [:]
    /// Closed after the current batch of events, so a number freed now cannot be reused by an
    /// accept in the same batch while stale events for it are still queued.
    @exclusivity(unchecked) private var retired: [Int32] = []
    /// UDP flows of all this loop's listeners (`maxUDPFlowsPerLoop`).
    @exclusivity(unchecked) var udpFlowCount = 0
    /// Sockets whose read budget ran out with input left: served again after the batch, since
    /// edge-triggered epoll will not report them again.
    @exclusivity(unchecked) private var unfinished: [Int32] = []
    /// Barriers reached in this batch, signalled after it.
    @exclusivity(unchecked) private var barriers: [DispatchSemaphore] = []
    @exclusivity(unchecked) private var pipes: PipePool
    /// Spill buffers of relays whose sink did not take a whole read.
    @exclusivity(unchecked) private var spills: [ByteBuffer] = []
    let datagramBuffer: ByteBuffer
    /// Where copying relays read into; shared, since what the sink takes leaves it at once.
    let scratch: ByteBuffer
    let pipeCapacity: Int
    @exclusivity(unchecked) private var dials: DialTimers
    @exclusivity(unchecked) private var pausedListeners: [(resume: UInt64, listener: TCPListener)] = []
    @exclusivity(unchecked) private var nextSweep: UInt64 = 0
    private let sweepInterval: UInt64
    @exclusivity(unchecked) private var drainDeadline: UInt64?

    init(tuning: ProxyTuning, logger: Logger) throws(SocketError) {
        self.tuning = tuning
        self.logger = logger
        epoll = try Epoll()
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wakeFD >= 0 else { throw SocketError(operation: "eventfd", code: errno) }
        pipes = PipePool(limit: tuning.pipePoolLimit, pipeSize: tuning.pipeSize)
        dials = DialTimers(steps: tuning.dialAttempts)
        datagramBuffer = ByteBuffer(capacity: tuning.maxDatagramSize)
        pipeCapacity = tuning.pipeSize
        scratch = ByteBuffer(capacity: tuning.bufferSize)
        // Idle relays and flows are found by a sweep; a quarter of the shorter timeout keeps the
        // overshoot small without waking often.
        let shortest = min(tuning.tcpIdleTimeout, tuning.udpFlowTimeout).nanoseconds / 4
        sweepInterval = min(max(shortest, 1_000_000), 1_000_000_000)
        register(wakeFD, .wakeup)
    }

    func start() {
        LoopThread.start { self.run() }
    }

    // MARK: other threads

    func send(_ commands: [LoopCommand]) {
        inbox.withLock { $0.append(contentsOf: commands) }
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    func waitUntilStopped() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = exit.withLock { state -> Bool in
                if state.done { return true }
                state.waiters.append(c)
                return false
            }
            if resumeNow { c.resume() }
        }
    }

    // MARK: the loop thread

    private func run() {
        if let slice = tuning.schedulerSlice, clinux_request_slice(slice.nanoseconds) != 0 {
            logger.debug("no custom scheduler slice (kernel before 6.12?)", metadata: ["errno": "\(errno)"])
        }
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while true {
            let n = epoll.wait(&events, timeoutMilliseconds: nextTimeout())
            now = monotonicNanoseconds()
            let carried = unfinished
            unfinished.removeAll(keepingCapacity: true)
            for i in 0..<n {
                let fd = Int32(truncatingIfNeeded: events[i].data.u64)
                guard Int(fd) < registrations.count, let registration = registrations[Int(fd)] else { continue }
                let flags = EpollEvents(rawValue: events[i].events)
                switch registration {
                case .wakeup: takeCommands()
                case .tcpListener(let listener): listener.acceptAll(on: self)
                case .udpListener(let listener): listener.receiveAll(on: self)
                case .relay(let relay): relay.handle(fd, flags)
                case .udpFlow(let flow): flow.receiveAll(on: self)
                }
            }
            for fd in carried {
                switch registrations[Int(fd)] {
                case .tcpListener(let listener)?: listener.acceptAll(on: self)
                case .udpListener(let listener)?: listener.receiveAll(on: self)
                case .udpFlow(let flow)?: flow.receiveAll(on: self)
                default: break
                }
            }
            closeRetired()
            fireTimers()
            closeRetired()
            for barrier in barriers { barrier.signal() }
            barriers.removeAll(keepingCapacity: true)
            if let deadline = drainDeadline, activeCount == 0 || now >= deadline { break }
        }
        stop()
    }

    private var activeCount: Int {
        var count = 0
        for case let registration? in registrations {
            switch registration {
            case .relay, .udpFlow: count += 1
            default: break
            }
        }
        return count
    }

    private func takeCommands() {
        var counter: UInt64 = 0
        _ = Glibc.read(wakeFD, &counter, 8)
        let commands = inbox.withLock { inbox -> [LoopCommand] in
            defer { inbox = [] }
            return inbox
        }
        for command in commands {
            switch command {
            case .open(let fd, let key, let rule):
                listeners[key] = fd
                switch key.protocol {
                case .tcp: register(fd, .tcpListener(TCPListener(fd: fd, key: key, rule: rule)))
                case .udp: register(fd, .udpListener(UDPListener(fd: fd, key: key, rule: rule)))
                }
            case .close(let key):
                closeListener(key)
            case .retarget(let key, let rule):
                guard let fd = listeners[key], let registration = registrations[Int(fd)] else { break }
                switch registration {
                case .tcpListener(let listener): listener.rule = rule
                case .udpListener(let listener): listener.rule = rule
                default: break
                }
            case .dropStaleFlows:
                for fd in listeners.values {
                    guard case .udpListener(let listener)? = registrations[Int(fd)] else { continue }
                    listener.dropFlows(keeping: Set(listener.rule.backends), on: self)
                }
            case .barrier(let semaphore):
                // Signalled once this batch is over and its retired descriptors are closed: closing
                // them here, mid-batch, would free numbers that later events of the batch still name.
                barriers.append(semaphore)
            case .drain(let deadline):
                drainDeadline = deadline
                for key in Array(listeners.keys) { closeListener(key) }
            }
        }
    }

    private func closeListener(_ key: ListenerKey) {
        guard let fd = listeners.removeValue(forKey: key) else { return }
        if case .udpListener(let listener)? = registrations[Int(fd)] { listener.closeAll(on: self) }
        pausedListeners.removeAll { $0.listener.fd == fd }
        retire(fd, reset: false)
    }

    // MARK: used by listeners and relays

    func register(_ fd: Int32, _ registration: Registration) {
        let index = Int(fd)
        if index >= registrations.count {
            registrations.append(contentsOf: repeatElement(nil, count: max(index + 1 - registrations.count, registrations.count)))
        }
        registrations[index] = registration
        let events: EpollEvents
        switch registration {
        case .relay: events = [.readable, .writable, .peerClosedWrite, .edgeTriggered]
        default: events = [.readable, .edgeTriggered]
        }
        epoll.add(fd, events)
        switch registration {
        case .relay, .udpFlow:
            if !hasTimedWork {
                hasTimedWork = true
                nextSweep = now + sweepInterval
            }
        default:
            break
        }
    }

    /// Serves `fd` again after this batch (its read budget ran out with input left).
    func continueLater(_ fd: Int32) {
        unfinished.append(fd)
    }

    /// Forgets `fd` now and closes it after the batch (closing also removes it from epoll).
    func retire(_ fd: Int32, reset: Bool) {
        registrations[Int(fd)] = nil
        if !unfinished.isEmpty { unfinished.removeAll { $0 == fd } }
        if reset {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        }
        retired.append(fd)
    }

    private func closeRetired() {
        for fd in retired { Socket.close(fd) }
        retired.removeAll(keepingCapacity: true)
    }

    /// A pipe for a direction that turned bulk; nil when splice is off or no pipe can be made.
    func pipeForBulk() -> Pipe? {
        tuning.useSplice ? pipes.take() : nil
    }

    func recycle(_ pipe: Pipe, empty: Bool) {
        pipes.giveBack(pipe, empty: empty)
    }

    func spill(copying scratch: ByteBuffer) -> ByteBuffer {
        let spill = spills.popLast() ?? ByteBuffer(capacity: tuning.bufferSize)
        spill.fill(from: scratch)
        return spill
    }

    func recycle(_ spill: ByteBuffer) {
        spill.clear()
        if spills.count < tuning.pipePoolLimit { spills.append(spill) }
    }

    /// Times the `attempt`-th dial (1-based) of `relay` by the dial ladder.
    func watchDial(_ relay: TCPRelay, attempt: Int) {
        let step = min(attempt - 1, tuning.dialAttempts - 1)
        dials.add(.init(deadline: now + tuning.dialTimeout(step: step).nanoseconds, relay: relay, attempt: attempt), step: step)
    }

    func resumeAccepting(_ listener: TCPListener, after nanoseconds: UInt64) {
        pausedListeners.append((now + nanoseconds, listener))
    }

    // MARK: timers

    private func nextTimeout() -> Int32 {
        if !unfinished.isEmpty { return 0 }
        var deadline = dials.nextDeadline() ?? .max
        for paused in pausedListeners { deadline = min(deadline, paused.resume) }
        if registrations.count > 0, hasTimedWork { deadline = min(deadline, nextSweep) }
        if let drain = drainDeadline { deadline = min(deadline, drain) }
        guard deadline != .max else { return -1 }
        let current = monotonicNanoseconds()
        guard deadline > current else { return 0 }
        return Int32(min((deadline - current + 999_999) / 1_000_000, 60_000))
    }

    /// Relays or flows exist (so the idle sweep must run). Tracked cheaply by the sweep itself.
    @exclusivity(unchecked) private var hasTimedWork = false

    private func fireTimers() {
        now = monotonicNanoseconds()
        for dial in dials.takeExpired(now: now) where dial.relay.isDialing(attempt: dial.attempt) {
            dial.relay.dialTimedOut()
        }
        if !pausedListeners.isEmpty {
            let due = pausedListeners.filter { $0.resume <= now }
            pausedListeners.removeAll { $0.resume <= now }
            for paused in due { paused.listener.resume(on: self) }
        }
        if now >= nextSweep {
            sweepIdle()
            nextSweep = now + sweepInterval
        }
    }

    private func sweepIdle() {
        let tcpIdle = tuning.tcpIdleTimeout.nanoseconds
        let udpIdle = tuning.udpFlowTimeout.nanoseconds
        var active = false
        for index in registrations.indices {
            guard let registration = registrations[index] else { continue }
            switch registration {
            case .relay(let relay) where relay.client == Int32(index):
                active = true
                if now &- relay.lastActivity > tcpIdle { relay.close(reset: true) }
            case .udpFlow(let flow):
                active = true
                if now &- flow.lastActivity > udpIdle { flow.listener.close(flow, on: self) }
            default:
                break
            }
        }
        // Sweeps stop when nothing is left to time out; a new relay restarts them (see register).
        hasTimedWork = active
    }

    private func stop() {
        for index in registrations.indices {
            switch registrations[index] {
            case .relay(let relay)?: relay.close(reset: true)
            case .udpFlow(let flow)?: flow.listener.close(flow, on: self)
            default: break
            }
        }
        for key in Array(listeners.keys) { closeListener(key) }
        closeRetired()
        pipes.closeAll()
        Socket.close(epoll.fd)
        Socket.close(wakeFD)
        let waiters = exit.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.done = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
