import Synchronization

/// Counters of one rule, summed over all event loops.
public struct RuleStatistics: Hashable, Sendable {
    public var connectionsOpened: UInt64 = 0
    public var connectionsActive: Int = 0
    public var bytesClientToBackend: UInt64 = 0
    public var bytesBackendToClient: UInt64 = 0
    /// Dials that were refused or timed out (each one, retried or not).
    public var dialFailures: UInt64 = 0
    /// Dials made to a further endpoint after one failed.
    public var dialRetries: UInt64 = 0
    /// Clients reset because no endpoint could be reached.
    public var connectionsRejected: UInt64 = 0
    public var udpFlowsActive: Int = 0
    public var udpFlowsTotal: UInt64 = 0
    /// Flows evicted to make room for a new client (a cap was reached).
    public var udpFlowsEvicted: UInt64 = 0
    /// New clients dropped: the loop's cap was reached and the rule had no flow to evict.
    public var udpFlowsRefused: UInt64 = 0
    public var acceptErrors: UInt64 = 0

    public init() {}
}

/// Live counters, shared by the loops; relaxed atomics, since readers only need eventual totals.
final class RuleCounters: Sendable {
    let connectionsOpened = Atomic<UInt64>(0)
    let connectionsActive = Atomic<Int>(0)
    let bytesClientToBackend = Atomic<UInt64>(0)
    let bytesBackendToClient = Atomic<UInt64>(0)
    let dialFailures = Atomic<UInt64>(0)
    let dialRetries = Atomic<UInt64>(0)
    let connectionsRejected = Atomic<UInt64>(0)
    let udpFlowsActive = Atomic<Int>(0)
    let udpFlowsTotal = Atomic<UInt64>(0)
    let udpFlowsEvicted = Atomic<UInt64>(0)
    let udpFlowsRefused = Atomic<UInt64>(0)
    let acceptErrors = Atomic<UInt64>(0)

    var snapshot: RuleStatistics {
        var s = RuleStatistics()
        s.connectionsOpened = connectionsOpened.load(ordering: .relaxed)
        s.connectionsActive = connectionsActive.load(ordering: .relaxed)
        s.bytesClientToBackend = bytesClientToBackend.load(ordering: .relaxed)
        s.bytesBackendToClient = bytesBackendToClient.load(ordering: .relaxed)
        s.dialFailures = dialFailures.load(ordering: .relaxed)
        s.dialRetries = dialRetries.load(ordering: .relaxed)
        s.connectionsRejected = connectionsRejected.load(ordering: .relaxed)
        s.udpFlowsActive = udpFlowsActive.load(ordering: .relaxed)
        s.udpFlowsTotal = udpFlowsTotal.load(ordering: .relaxed)
        s.udpFlowsEvicted = udpFlowsEvicted.load(ordering: .relaxed)
        s.udpFlowsRefused = udpFlowsRefused.load(ordering: .relaxed)
        s.acceptErrors = acceptErrors.load(ordering: .relaxed)
        return s
    }
}

extension Atomic where Value == UInt64 {
    @inline(__always) func add(_ n: UInt64) { wrappingAdd(n, ordering: .relaxed) }
}

extension Atomic where Value == Int {
    @inline(__always) func add(_ n: Int) { wrappingAdd(n, ordering: .relaxed) }
}
