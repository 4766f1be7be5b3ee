import Logging
import Synchronization
@_spi(Benchmarks) @testable import UserspaceProxy

/// A clock the test moves by hand, for affinity timeouts.
final class ManualClock: Sendable {
    private let current = Mutex(ContinuousClock.now)
    var now: ContinuousClock.Instant { current.withLock { $0 } }
    func advance(by duration: Duration) { current.withLock { $0 += duration } }
}

/// Runs `body` against a proxy with two event loops (so cross-loop behaviour is exercised), then
/// shuts it down.
func withProxy(
    loops: Int = 2,
    clock: ManualClock? = nil,
    tune: (inout ProxyTuning) -> Void = { _ in },
    _ body: (UserspaceProxy) async throws -> Void
) async throws {
    var tuning = ProxyTuning()
    tuning.eventLoops = loops
    tuning.dialTimeout = .seconds(2)
    tune(&tuning)
    var logger = Logger(label: "UserspaceProxyTests")
    logger.logLevel = .warning
    let proxy: UserspaceProxy
    if let clock {
        proxy = try UserspaceProxy(tuning: tuning, logger: logger, clock: { clock.now })
    } else {
        proxy = try UserspaceProxy(tuning: tuning, logger: logger)
    }
    do {
        try await body(proxy)
    } catch {
        await proxy.shutdown(gracePeriod: .zero)
        throw error
    }
    await proxy.shutdown(gracePeriod: .zero)
}

func tcpRule(
    _ name: String,
    listen: ProxyAddress,
    backends: [ProxyAddress],
    affinity: Duration? = nil
) -> ForwardingRule {
    ForwardingRule(name: name, protocol: .tcp, listenAddresses: [listen], backends: backends, affinityTimeout: affinity)
}

/// Connects through the proxy to an `.identify` backend and returns the name it answered with.
func whoAnswers(_ address: ProxyAddress) throws -> String {
    let socket = try TestNet.connect(to: address)
    return String(decoding: try socket.receiveToEnd(), as: UTF8.self)
}

/// Polls `condition` until it holds or `attempts` × 10 ms have passed; returns whether it held.
func eventually(attempts: Int = 500, _ condition: () -> Bool) async -> Bool {
    for _ in 0..<attempts {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
