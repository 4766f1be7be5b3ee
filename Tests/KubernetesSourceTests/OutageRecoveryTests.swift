import Foundation
@testable import KubernetesSource
import ProxyModel
import Testing

/// Back from an API server outage: the watch comes back by itself, with the default backoff.
@Suite struct OutageRecoveryTests {
    /// One outage long enough for the backoff to reach its cap; a Service created after the
    /// return arrives through the new watch (no wall-clock bound: the point is that it arrives,
    /// and that the retries during the outage stay at the default backoff's pace).
    @Test func aServiceCreatedAfterAnOutageArrives() async throws {
        let server = try await FakeAPIServer()
        server.put(Collections.services, numberedService(1))
        let source = try RunningSource.start(server: server, reflector: ReflectorSettings(backoff: Backoff(initial: .milliseconds(50), cap: .milliseconds(400))))
        #expect(await eventually { source.store.hasSynced && server.liveWatchCount == 3 })
        server.setDown(true)
        let failedBefore = server.requests.count
        #expect(await eventually { server.requests.count >= failedBefore + 12 })   // several rounds of retries, all refused
        server.setDown(false)
        server.put(Collections.services, numberedService(2))
        #expect(await eventually { source.snapshot().servicePorts.count == 2 })
        await source.stop()
        await server.stop()
    }

    /// The measurement behind the README's figure (opt-in: `SKP_MEASURE_OUTAGES=10`): outages of
    /// 15 s with the default backoff; after each, the time from the API server's return to a new
    /// Service in the store. Prints the median and p90.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SKP_MEASURE_OUTAGES"] != nil))
    func measureRecoveryAfterOutages() async throws {
        let rounds = Int(ProcessInfo.processInfo.environment["SKP_MEASURE_OUTAGES"] ?? "") ?? 10
        let server = try await FakeAPIServer()
        let source = try RunningSource.start(server: server, reflector: ReflectorSettings())
        #expect(await eventually { source.store.hasSynced && server.liveWatchCount == 3 })
        var seconds: [Double] = []
        for round in 1...rounds {
            server.setDown(true)
            try await Task.sleep(for: .seconds(15))
            server.setDown(false)
            let back = ContinuousClock.now
            server.put(Collections.services, numberedService(round))
            while source.snapshot().servicePorts.count < round { try await Task.sleep(for: .milliseconds(5)) }
            let d = ContinuousClock.now - back
            seconds.append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
        }
        let sorted = seconds.sorted()
        print("outage recovery over \(rounds) outages of 15 s: median \(sorted[sorted.count / 2]) s, p90 \(sorted[min(sorted.count - 1, sorted.count * 9 / 10)]) s, all \(seconds.map { String(format: "%.2f", $0) })")
        await source.stop()
        await server.stop()
    }
}
