import Glibc

/// One proxied TCP connection: the accepted client, the dial to an endpoint (with retries), then
/// both directions relayed until each side has sent its FIN. Confined to the loop that accepted it.
final class TCPRelay {
    enum Phase {
        case dialing
        case relaying
        case closed
    }

    // The loop owns its relays (through its registrations) and outlives them: no need to pay
    // for an unowned reference check on every use.
    private unowned(unsafe) let loop: EventLoop
    // Relay state is only touched on its loop's thread, one call at a time. Dynamic exclusivity
    // checks on these class properties were 65 % of the proxy's user-space instructions per
    // request (callgrind), hence `@exclusivity(unchecked)` on the hot mutable state here and in
    // EventLoop, the listeners and ByteBuffer.
    let rule: LiveRule
    let client: Int32
    @exclusivity(unchecked) private(set) var backend: Int32 = -1
    private let clientIP: IPAddress?
    private let choice: LiveRule.Choice
    @exclusivity(unchecked) private var target: ProxyAddress?
    /// Dials made so far; also names the current dial for its deadline.
    @exclusivity(unchecked) private(set) var attempts = 0
    @exclusivity(unchecked) private(set) var phase = Phase.dialing
    @exclusivity(unchecked) var lastActivity: UInt64

    // Nothing is readable until an event says so: epoll_ctl(ADD) reports what is already pending.
    @exclusivity(unchecked) private var clientReadable = false
    @exclusivity(unchecked) private var clientWritable = true
    @exclusivity(unchecked) private var backendReadable = false
    @exclusivity(unchecked) private var backendWritable = true
    @exclusivity(unchecked) private var clientHungUp = false
    @exclusivity(unchecked) private var backendHungUp = false
    @exclusivity(unchecked) private var upstream = RelayDirection()   // client → backend
    @exclusivity(unchecked) private var downstream = RelayDirection() // backend → client

    private init(client: Int32, clientIP: IPAddress?, rule: LiveRule, choice: LiveRule.Choice, loop: EventLoop) {
        self.client = client
        self.clientIP = clientIP
        self.rule = rule
        self.choice = choice
        self.loop = loop
        lastActivity = loop.now
    }

    static func start(client: Int32, clientIP: IPAddress?, rule: LiveRule, on loop: EventLoop) {
        let counters = rule.counters
        counters.connectionsOpened.add(1)
        guard let choice = rule.choose(client: clientIP) else {
            // No ready endpoint: reject (RST), as kube-proxy does, rather than hold the client.
            counters.connectionsRejected.add(1)
            Socket.reset(client)
            return
        }
        counters.connectionsActive.add(1)
        let relay = TCPRelay(client: client, clientIP: clientIP, rule: rule, choice: choice, loop: loop)
        loop.register(client, .relay(relay))
        relay.dialNext()
    }

    func isDialing(attempt: Int) -> Bool {
        phase == .dialing && attempts == attempt
    }

    /// Dials the next endpoint of the choice, `dialAttempts` times or once round the list if it is
    /// longer (a one-endpoint Service is dialled again, with a longer timeout); then resets the client.
    private func dialNext() {
        let count = choice.backends.count
        while attempts < max(count, loop.tuning.dialAttempts) {
            let address = choice.backends[(choice.first + attempts) % count]
            if attempts > 0 { rule.counters.dialRetries.add(1) }
            attempts += 1
            target = address
            switch Socket.dial(.tcp, to: address) {
            case .connected(let fd):
                backend = fd
                loop.register(fd, .relay(self))
                established()
                return
            case .inProgress(let fd):
                backend = fd
                loop.register(fd, .relay(self))
                loop.watchDial(self, attempt: attempts)
                return
            case .failed(let code):
                noteDialFailure(code)
            }
        }
        rule.counters.connectionsRejected.add(1)
        close(reset: true)
    }

    func dialTimedOut() {
        dialFailed(ETIMEDOUT)
    }

    private func dialFailed(_ code: Int32) {
        noteDialFailure(code)
        loop.retire(backend, reset: false)
        backend = -1
        dialNext()
    }

    private func noteDialFailure(_ code: Int32) {
        rule.counters.dialFailures.add(1)
        loop.logger.debug("dial failed", metadata: [
            "rule": "\(rule.name)", "backend": "\(target.map { "\($0)" } ?? "?")", "errno": "\(code)",
        ])
    }

    func handle(_ fd: Int32, _ events: EpollEvents) {
        lastActivity = loop.now
        let readable = !events.isDisjoint(with: [.readable, .peerClosedWrite, .hangUp, .error])
        let writable = !events.isDisjoint(with: [.writable, .hangUp, .error])
        let hungUp = !events.isDisjoint(with: [.peerClosedWrite, .hangUp, .error])
        if fd == client {
            if readable { clientReadable = true }
            if writable { clientWritable = true }
            if hungUp { clientHungUp = true }
        } else {
            if readable { backendReadable = true }
            if writable { backendWritable = true }
            if hungUp { backendHungUp = true }
        }
        // A reset (or another error) on either side ends the relay at once, passing the reset on:
        // the other side may be idle, and would otherwise hold the relay until the idle timeout.
        if phase == .relaying, events.contains(.error), Socket.pendingError(fd) != 0 {
            close(reset: true)
            return
        }
        switch phase {
        case .dialing:
            // The client may already talk; nothing moves until the endpoint has answered.
            guard fd == backend, writable else { return }
            // EPOLLOUT alone means connected; only an error or hang-up needs SO_ERROR read.
            if events.isDisjoint(with: [.error, .hangUp]) {
                established()
            } else {
                let code = Socket.pendingError(backend)
                if code == 0 { established() } else { dialFailed(code) }
            }
        case .relaying:
            pump()
        case .closed:
            break
        }
    }

    private func established() {
        phase = .relaying
        if attempts > 1, let target { rule.remember(target, for: clientIP) }
        upstream.source = client
        upstream.sink = backend
        downstream.source = backend
        downstream.sink = client
        pump()
    }

    private func pump() {
        let counters = rule.counters
        switch upstream.pump(sourceReadable: &clientReadable, sinkWritable: &backendWritable, sourceHungUp: clientHungUp, lastToFinish: downstream.finished, loop: loop) {
        case .moved(let n): if n > 0 { counters.bytesClientToBackend.add(UInt64(n)) }
        case .failed: return close(reset: true)  // a failed read or write: the connection is broken both ways
        }
        switch downstream.pump(sourceReadable: &backendReadable, sinkWritable: &clientWritable, sourceHungUp: backendHungUp, lastToFinish: upstream.finished, loop: loop) {
        case .moved(let n): if n > 0 { counters.bytesBackendToClient.add(UInt64(n)) }
        case .failed: return close(reset: true)
        }
        if upstream.finished, downstream.finished {
            close(reset: false)
        }
    }

    /// Ends the relay; `reset` sends RST (SO_LINGER 0) instead of FIN to whoever is still connected.
    func close(reset: Bool) {
        guard phase != .closed else { return }
        phase = .closed
        loop.retire(client, reset: reset)
        if backend >= 0 { loop.retire(backend, reset: reset) }
        upstream.release(to: loop)
        downstream.release(to: loop)
        rule.counters.connectionsActive.add(-1)
    }
}
