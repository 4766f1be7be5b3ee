import Glibc
import ProxyModel
import Synchronization

/// The kernel's connection-tracking table through ctnetlink: stream a family's entries, decide on
/// each as it arrives, then delete those that were kept (kube-proxy's conntrack reconciler).
///
/// A dump in progress cannot be interleaved with other requests on the same socket, so deletions
/// run after the dump ends, on the same socket; only the entries to delete are held in memory, never
/// the table. All calls are blocking: run them on a thread of your own, not on Swift's cooperative pool.
public final class Conntrack: Sendable {
    private struct State: ~Copyable {
        var socket: NetlinkSocket
        /// The last sequence number used.
        var sequence: UInt32
    }

    private let networkNamespace: String?
    /// Held for a whole dump or batch, so one request runs at a time.
    private let state: Mutex<State>

    /// Deletions sent per datagram (each acked on its own).
    public static let deleteBatchSize = 128

    /// A socket in the current network namespace, or in `/run/netns/<networkNamespace>`.
    public init(networkNamespace: String? = nil) throws(ConntrackError) {
        self.networkNamespace = networkNamespace
        let socket = try NetlinkSocket(networkNamespace: networkNamespace)
        state = Mutex(State(socket: socket, sequence: UInt32.random(in: 1...1_000_000)))
    }

    /// Streams every entry of `family` through `decide` and returns the ones it kept. Memory holds
    /// one receive buffer plus the kept entries, whatever the table's size. When the kernel dropped
    /// messages (ENOBUFS), the dump restarts once on a new socket (the kept entries start over).
    public func dump(family: IPAddress.Family, keeping decide: (ConntrackFlow) -> Bool) throws(ConntrackError) -> DumpResult {
        var restarts = 0
        while true {
            var result = DumpResult()
            do throws(ConntrackError) {
                result.interrupted = try withState { state throws(ConntrackError) in
                    state.sequence &+= 1
                    let sequence = state.sequence
                    return try state.socket.dump(CTNetlinkMessage.dumpRequest(family: family, sequence: sequence), sequence: sequence) { message in
                        guard let flow = CTNetlinkMessage.decodeFlow(message) else { return }
                        result.scanned += 1
                        if decide(flow) { result.kept.append(flow) }
                    }
                }
                result.restarts = restarts
                return result
            } catch .system(let call, ENOBUFS) {
                // The socket may still hold the rest of the broken dump: a new one starts clean.
                try reopen()
                guard restarts == 0 else { throw ConntrackError.system(call, ENOBUFS) }
                restarts += 1
            }
        }
    }

    /// Deletes `flows` by their original tuple, in batches, until done or until `deadline` passes
    /// (checked before each batch). An entry that is already gone (it expired, or a concurrent
    /// cleanup took it) counts as `gone`, not as an error.
    public func delete(_ flows: [ConntrackFlow], deadline: ContinuousClock.Instant? = nil) throws(ConntrackError) -> DeleteResult {
        try delete(flows[...], deadline: deadline)
    }

    public func delete(_ flows: ArraySlice<ConntrackFlow>, deadline: ContinuousClock.Instant? = nil) throws(ConntrackError) -> DeleteResult {
        var result = DeleteResult()
        var start = flows.startIndex
        while start < flows.endIndex {
            if let deadline, ContinuousClock.now >= deadline {
                result.notAttempted = flows.endIndex - start
                break
            }
            let chunk = flows[start..<min(start + Self.deleteBatchSize, flows.endIndex)]
            let outcomes = try withState { state throws(ConntrackError) in
                let first = state.sequence &+ 1
                let requests = chunk.enumerated().map { i, flow in
                    CTNetlinkMessage.deleteRequest(flow, sequence: first &+ UInt32(i))
                }
                state.sequence &+= UInt32(chunk.count)
                return try state.socket.batch(requests, firstSequence: first)
            }
            for outcome in outcomes {
                switch outcome {
                case .ok: result.deleted += 1
                case .error(ENOENT): result.gone += 1
                case .error(let code): result.failed += 1; result.firstError = result.firstError ?? .netlink(code)
                }
            }
            start += chunk.count
        }
        return result
    }

    /// Every entry of `family` (tests and tools; a cleanup should use `dump(family:keeping:)`).
    public func flows(family: IPAddress.Family) throws(ConntrackError) -> [ConntrackFlow] {
        try dump(family: family) { _ in true }.kept
    }

    /// Deletes every entry matching any of `filters`; returns how many were deleted.
    @discardableResult
    public func delete(matching filters: [ConntrackFilter]) throws(ConntrackError) -> Int {
        var deleted = 0
        for family in [IPAddress.Family.ipv4, .ipv6] {
            let wanted = filters.filter { $0.family == family }
            if wanted.isEmpty { continue }
            let matches = try dump(family: family) { flow in wanted.contains { $0.matches(flow) } }.kept
            let result = try delete(matches)
            if let error = result.firstError { throw error }
            deleted += result.deleted
        }
        return deleted
    }

    private func reopen() throws(ConntrackError) {
        let socket = try NetlinkSocket(networkNamespace: networkNamespace)
        state.withLock { $0.socket = socket }
    }

    private func withState<T: Sendable>(_ body: (inout State) throws(ConntrackError) -> T) throws(ConntrackError) -> T {
        try state.withLock { state throws(ConntrackError) -> T in try body(&state) }
    }
}

/// What a dump saw.
public struct DumpResult: Sendable {
    /// Entries decoded.
    public var scanned = 0
    /// Entries the decision kept.
    public var kept: [ConntrackFlow] = []
    /// The kernel flagged the dump as interrupted (the table changed during it).
    public var interrupted = false
    /// Times the dump started over after ENOBUFS.
    public var restarts = 0

    public init() {}
}

/// What a deletion did.
public struct DeleteResult: Sendable, Equatable {
    public var deleted = 0
    /// Already gone when its deletion arrived.
    public var gone = 0
    /// Refused by the kernel for another reason.
    public var failed = 0
    /// Not sent: the deadline passed first.
    public var notAttempted = 0
    public var firstError: ConntrackError?

    public init() {}

    /// Adds what a later deletion of the same cleanup did (its `notAttempted` is what is left).
    public mutating func add(_ later: DeleteResult) {
        deleted += later.deleted
        gone += later.gone
        failed += later.failed
        notAttempted = later.notAttempted
        firstError = firstError ?? later.firstError
    }
}
