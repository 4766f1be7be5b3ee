/// ClientIP session affinity: remembers which endpoint served a client IP, until that client has
/// been idle for longer than `timeout`. A value type with the time passed in, so tests need no clock.
struct ClientAffinity {
    struct Entry {
        var backend: ProxyAddress
        var lastUsed: ContinuousClock.Instant
    }

    let timeout: Duration
    /// Clients remembered at most: a timeout of hours and a flood of spoofed UDP sources would
    /// otherwise grow the table without bound.
    let maxClients: Int
    private(set) var entries: [IPAddress: Entry] = [:]
    private var recordsSincePrune = 0

    init(timeout: Duration, maxClients: Int = 65_536) {
        self.timeout = timeout
        self.maxClients = max(1, maxClients)
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
        if entries.count >= maxClients, entries[client] == nil {
            prune(now: now)
            // Still full of live clients: forget the least recently seen eighth at once, so the
            // sort is paid once per many new clients, not for each.
            if entries.count >= maxClients {
                let oldest = entries.sorted { $0.value.lastUsed < $1.value.lastUsed }.prefix(max(1, maxClients / 8))
                for (ip, _) in oldest { entries[ip] = nil }
            }
        }
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
