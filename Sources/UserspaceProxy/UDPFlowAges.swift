/// The order in which one listener's UDP flows are evicted at a cap: least recently active first.
///
/// A min-heap of (time seen, flow), refreshed lazily: a flow's activity never touches the heap (the
/// hot path only stores `lastActivity`); when a victim is wanted, the top entry is evicted if its
/// flow has not been active since the entry was made, and otherwise pushed back with the flow's
/// current time. Each choice costs O(log n) per flow that was active since its entry was made,
/// where a scan for the oldest would cost every flow per new client, which is exactly what a
/// flood of new source ports would make us do.
struct UDPFlowAges {
    private var heap: [(seen: UInt64, flow: UDPFlow)] = []

    mutating func append(_ flow: UDPFlow, flowCount: Int) {
        push((flow.lastActivity, flow))
        // Entries of flows closed otherwise (idle, endpoint gone) are dropped now and then, so the
        // heap stays within a small multiple of the live flows.
        if heap.count > 2 * flowCount + 64 {
            let live = heap.filter { $0.flow.isOpen }
            heap = []
            for entry in live { push(entry) }
        }
    }

    /// The open flow to evict; nil when there is none.
    mutating func leastRecentlyActive() -> UDPFlow? {
        while let top = pop() {
            guard top.flow.isOpen else { continue }
            if top.flow.lastActivity > top.seen {
                push((top.flow.lastActivity, top.flow))
                continue
            }
            return top.flow
        }
        return nil
    }

    private mutating func push(_ entry: (seen: UInt64, flow: UDPFlow)) {
        heap.append(entry)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].seen < heap[parent].seen else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func pop() -> (seen: UInt64, flow: UDPFlow)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let left = 2 * i + 1, right = left + 1
            var smallest = i
            if left < heap.count, heap[left].seen < heap[smallest].seen { smallest = left }
            if right < heap.count, heap[right].seen < heap[smallest].seen { smallest = right }
            guard smallest != i else { break }
            heap.swapAt(i, smallest)
            i = smallest
        }
        return top
    }
}
