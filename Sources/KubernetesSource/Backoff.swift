/// Exponential backoff with jitter and a cap, for every retry a reflector makes: the n-th wait is
/// `initial * 2^n`, capped, and then shortened by up to `jitter` of itself at random, so that many
/// nodes that lost the API server together do not come back in step (also at the cap, where a
/// spread added on top would be cut off again and leave every node retrying in lockstep).
///
/// The cap is 5 s, not client-go's 30 s: after an API server outage a node must be back within a few
/// seconds of its return (a new Service waits for it), and with a cap of 30 s it waited up to 30 s
/// (17.6 s measured). Retries of a thousand nodes still spread over 2.5 s, a few hundred a second.
public struct Backoff: Sendable {
    public var initial: Duration
    public var cap: Duration
    /// Fraction of each wait taken off at random, 0 to 1.
    public var jitter: Double
    private var attempt = 0

    public init(initial: Duration = .milliseconds(800), cap: Duration = .seconds(5), jitter: Double = 0.5) {
        self.initial = initial
        self.cap = cap
        self.jitter = max(0, min(1, jitter))
    }

    /// The wait before the next try; every call doubles the base until the cap.
    public mutating func next<R: RandomNumberGenerator>(using random: inout R) -> Duration {
        let base = min(cap, initial * Double(1 << min(attempt, 30)))
        attempt += 1
        let spread = jitter == 0 ? 0 : Double.random(in: 0...jitter, using: &random)
        return base - base * spread
    }

    public mutating func next() -> Duration {
        var random = SystemRandomNumberGenerator()
        return next(using: &random)
    }

    /// After a success, start again from `initial`.
    public mutating func reset() { attempt = 0 }

    /// Waits for the next interval; throws `CancellationError` when the task is cancelled.
    public mutating func wait() async throws {
        try await Task.sleep(for: next())
    }
}
