/// ClientIP session affinity: remembers which endpoint served a client IP, until that client has
/// been idle for longer than `timeout`. A value type with the time passed in, so tests need no clock.
struct ClientAffinity {
    struct Entry {
        var backend: ProxyAddress
        var lastUsed: ContinuousClock.Instant
    }

    let timeout: Duration
    private(set) var entries: [IPAddress: Entry] = [:]
    private var recordsSincePrune = 0

    init(timeout: Duration) {
        self.timeout = timeout
    }

    /// The endpoint this client sticks to, refreshing its idle time; nil when none or expired.
    mutating func backend(for client: IPAddress, now: ContinuousClock.Instant) -> ProxyAddress? {
        guard let entry = entries[client] else { return nil }
        if now - entry.lastUsed > timeout {
            entries[client] = nil
            return nil
        }
        entries[client]!.lastUsed = now
        return entry.backend
    }

    mutating func record(_ backend: ProxyAddress, for client: IPAddress, now: ContinuousClock.Instant) {
        entries[client] = Entry(backend: backend, lastUsed: now)
        // Expired clients are dropped lazily; an occasional sweep bounds the table by active clients.
        recordsSincePrune += 1
        if recordsSincePrune >= 1024 {
            recordsSincePrune = 0
            prune(now: now)
        }
    }

    mutating func prune(now: ContinuousClock.Instant) {
        entries = entries.filter { now - $0.value.lastUsed <= timeout }
    }

    /// Endpoints that went away release their clients, who then get a fresh round-robin pick.
    mutating func keep(only backends: Set<ProxyAddress>) {
        entries = entries.filter { backends.contains($0.value.backend) }
    }
}
