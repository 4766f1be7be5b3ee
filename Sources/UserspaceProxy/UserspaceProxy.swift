import Dispatch
import Logging
import Synchronization

/// The userspace dataplane: forwards TCP connections and UDP flows from listen addresses to
/// endpoints, on several epoll event loops. Rules come in whole through `apply`.
public final class UserspaceProxy: Sendable {
    private struct Registry {
        var rules: [String: LiveRule] = [:]
        var listeners: [ListenerKey: LiveRule] = [:]
        var stopped = false
    }

    public let tuning: ProxyTuning
    private let logger: Logger
    private let loops: [EventLoop]
    private let registry = Mutex(Registry())
    private let clock: @Sendable () -> ContinuousClock.Instant

    /// Starts the event loops (idle until rules arrive). Raises the open-file soft limit to the
    /// hard limit and ignores SIGPIPE for the whole process: a proxy must see EPIPE, not die.
    public convenience init(tuning: ProxyTuning = ProxyTuning(), logger: Logger) throws {
        try self.init(tuning: tuning, logger: logger, clock: { .now })
    }

    /// `clock` times session affinity; tests pass one they advance by hand.
    init(tuning: ProxyTuning, logger: Logger, clock: @escaping @Sendable () -> ContinuousClock.Instant) throws {
        self.clock = clock
        Socket.raiseOpenFileLimit()
        Socket.ignoreBrokenPipeSignal()
        self.tuning = tuning
        self.logger = logger
        loops = try (0..<max(1, tuning.eventLoops)).map { index in
            var loopLogger = logger
            loopLogger[metadataKey: "loop"] = "\(index)"
            return try EventLoop(tuning: tuning, logger: loopLogger)
        }
        for loop in loops { loop.start() }
    }

    public var eventLoopCount: Int { loops.count }

    /// Makes `rules` the whole set: opens listeners for new addresses, closes those no longer
    /// named, and swaps endpoint lists in place. Relays of rules that stay are never cut; those of
    /// a removed address finish on their own. Returns the addresses that could not be opened.
    /// When it returns, new listeners accept and removed ones are closed.
    @discardableResult
    public func apply(_ rules: [ForwardingRule]) -> [ListenFailure] {
        registry.withLock { registry -> [ListenFailure] in
            guard !registry.stopped else { return [] }
            var failures: [ListenFailure] = []
            var liveRules: [String: LiveRule] = [:]
            var wanted: [ListenerKey: LiveRule] = [:]
            for rule in rules {
                guard liveRules[rule.name] == nil else {
                    failures += rule.listenAddresses.map {
                        ListenFailure(rule: rule.name, protocol: rule.protocol, address: $0, reason: "duplicate rule name")
                    }
                    continue
                }
                let live: LiveRule
                if let existing = registry.rules[rule.name], existing.protocol == rule.protocol {
                    live = existing
                } else {
                    live = LiveRule(name: rule.name, protocol: rule.protocol, clock: clock)
                }
                live.update(backends: rule.backends, affinityTimeout: rule.affinityTimeout)
                liveRules[rule.name] = live
                for address in rule.listenAddresses {
                    let key = ListenerKey(protocol: rule.protocol, address: address)
                    if let owner = wanted[key], owner !== live {
                        failures.append(ListenFailure(rule: rule.name, protocol: rule.protocol, address: address,
                                                      reason: "already used by rule \(owner.name)"))
                        continue
                    }
                    wanted[key] = live
                }
            }

            var commands: [[LoopCommand]] = Array(repeating: [], count: loops.count)
            for (key, _) in registry.listeners where wanted[key] == nil {
                for i in loops.indices { commands[i].append(.close(key)) }
            }
            var opened: [ListenerKey: LiveRule] = [:]
            for (key, live) in wanted {
                if let current = registry.listeners[key] {
                    if current !== live {
                        for i in loops.indices { commands[i].append(.retarget(key, live)) }
                    }
                    opened[key] = live
                    continue
                }
                do {
                    let fds = try openListeners(key)
                    for (i, fd) in fds.enumerated() { commands[i].append(.open(fd: fd, key: key, rule: live)) }
                    opened[key] = live
                } catch {
                    failures.append(ListenFailure(rule: live.name, protocol: key.protocol, address: key.address,
                                                  reason: "\(error)"))
                }
            }

            let done = DispatchSemaphore(value: 0)
            for (i, loop) in loops.enumerated() { loop.send(commands[i] + [.dropStaleFlows, .barrier(done)]) }
            for _ in loops { done.wait() }

            registry.rules = liveRules
            registry.listeners = opened
            for failure in failures { logger.warning("\(failure)") }
            return failures
        }
    }

    /// One SO_REUSEPORT socket per loop, all or none.
    private func openListeners(_ key: ListenerKey) throws(SocketError) -> [Int32] {
        var fds: [Int32] = []
        do {
            for _ in loops {
                fds.append(try Socket.listener(key.protocol, at: key.address, backlog: tuning.listenBacklog))
            }
        } catch {
            for fd in fds { Socket.close(fd) }
            throw error
        }
        return fds
    }

    /// Counters per rule name, for the rules of the last `apply`.
    public func statistics() -> [String: RuleStatistics] {
        registry.withLock { registry in registry.rules.mapValues { $0.counters.snapshot } }
    }

    /// Graceful stop: closes every listener at once, lets open relays finish for up to
    /// `gracePeriod`, then resets the rest and ends the loops. `apply` does nothing afterwards.
    public func shutdown(gracePeriod: Duration = .seconds(10)) async {
        let deadline = monotonicNanoseconds() + gracePeriod.nanoseconds
        let first = registry.withLock { registry -> Bool in
            defer { registry.stopped = true }
            return !registry.stopped
        }
        if first {
            for loop in loops { loop.send([.drain(deadline: deadline)]) }
        }
        for loop in loops { await loop.waitUntilStopped() }
    }
}
