import Synchronization

/// Exact rotation over a rule's endpoints, shared by every event loop: one atomic ticket per pick,
/// so nine connections over three endpoints land three times on each, in order, whichever loop
/// accepted them.
final class RoundRobin: Sendable {
    private let ticket = Atomic<UInt64>(0)

    /// Index of the next endpoint among `count` (count > 0).
    func next(count: Int) -> Int {
        let t = ticket.wrappingAdd(1, ordering: .relaxed).oldValue
        return Int(t % UInt64(count))
    }
}
