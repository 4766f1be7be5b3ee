import Synchronization

/// A rule as the event loops use it: its endpoints (swapped whole by `apply`), the round-robin
/// ticket, the affinity table and the counters. Shared by every loop, hence locked or atomic.
/// (SPI only so that Benchmarks/ can time the endpoint pick.)
@_spi(Benchmarks) public final class LiveRule: Sendable {
    /// The endpoints to try for one connection: start at `first`, then onwards round the list.
    @_spi(Benchmarks) public struct Choice: Sendable {
        public var backends: [ProxyAddress]
        public var first: Int
    }

    private struct Selection {
        var backends: [ProxyAddress] = []
        var affinity: ClientAffinity?
    }

    let name: String
    let `protocol`: ProxyProtocol
    let counters = RuleCounters()
    private let roundRobin = RoundRobin()
    private let selection = Mutex(Selection())
    private let clock: @Sendable () -> ContinuousClock.Instant

    @_spi(Benchmarks) public init(name: String, protocol: ProxyProtocol, clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.name = name
        self.protocol = `protocol`
        self.clock = clock
    }

    /// Whether loops need the client's address at accept (only for affinity).
    var usesAffinity: Bool { selection.withLock { $0.affinity != nil } }

    @_spi(Benchmarks) public func update(backends: [ProxyAddress], affinityTimeout: Duration?) {
        selection.withLock { s in
            s.backends = backends
            if let timeout = affinityTimeout {
                if s.affinity?.timeout != timeout { s.affinity = ClientAffinity(timeout: timeout) }
                s.affinity!.keep(only: Set(backends))
            } else {
                s.affinity = nil
            }
        }
    }

    var backends: [ProxyAddress] { selection.withLock { $0.backends } }

    /// Picks the endpoint for a new connection or flow; nil when the rule has no endpoints.
    @_spi(Benchmarks) public func choose(client: IPAddress?) -> Choice? {
        selection.withLock { s -> Choice? in
            let count = s.backends.count
            guard count > 0 else { return nil }
            guard let client, s.affinity != nil else {
                return Choice(backends: s.backends, first: roundRobin.next(count: count))
            }
            let now = clock()
            if let sticky = s.affinity!.backend(for: client, now: now),
               let index = s.backends.firstIndex(of: sticky) {
                return Choice(backends: s.backends, first: index)
            }
            let index = roundRobin.next(count: count)
            s.affinity!.record(s.backends[index], for: client, now: now)
            return Choice(backends: s.backends, first: index)
        }
    }

    /// After a retry landed elsewhere, the client sticks to the endpoint that answered.
    func remember(_ backend: ProxyAddress, for client: IPAddress?) {
        guard let client else { return }
        selection.withLock { s in
            guard s.affinity != nil else { return }
            s.affinity!.record(backend, for: client, now: clock())
        }
    }
}
