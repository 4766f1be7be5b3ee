/// Deadlines of dials in progress, one FIFO queue per step of the dial ladder. Every dial of a step
/// waits as long, so within a queue later dials end later and the front is always the next due:
/// no heap needed.
struct DialTimers {
    struct Entry {
        var deadline: UInt64
        var relay: TCPRelay
        var attempt: Int
    }

    private var queues: [[Entry]]
    private var heads: [Int]

    init(steps: Int) {
        queues = Array(repeating: [], count: max(1, steps))
        heads = Array(repeating: 0, count: max(1, steps))
    }

    mutating func add(_ entry: Entry, step: Int) {
        queues[min(step, queues.count - 1)].append(entry)
    }

    /// The earliest deadline of a dial still in progress; ended dials at the fronts are dropped.
    mutating func nextDeadline() -> UInt64? {
        var next: UInt64?
        for q in queues.indices {
            while heads[q] < queues[q].count, !queues[q][heads[q]].relay.isDialing(attempt: queues[q][heads[q]].attempt) {
                heads[q] += 1
            }
            compact(q)
            if heads[q] < queues[q].count { next = min(next ?? .max, queues[q][heads[q]].deadline) }
        }
        return next
    }

    /// Removes and returns the dials whose deadline is at or before `now`.
    mutating func takeExpired(now: UInt64) -> [Entry] {
        var expired: [Entry] = []
        for q in queues.indices {
            while heads[q] < queues[q].count, queues[q][heads[q]].deadline <= now {
                expired.append(queues[q][heads[q]])
                heads[q] += 1
            }
            compact(q)
        }
        return expired
    }

    /// Drops consumed entries once they are most of a queue, so memory follows the dials in flight.
    private mutating func compact(_ q: Int) {
        if heads[q] == queues[q].count {
            queues[q].removeAll(keepingCapacity: true)
            heads[q] = 0
        } else if heads[q] > 1024, heads[q] * 2 > queues[q].count {
            queues[q].removeFirst(heads[q])
            heads[q] = 0
        }
    }
}
