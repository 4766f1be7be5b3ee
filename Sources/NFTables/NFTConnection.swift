import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A connection to the kernel's nf_tables, in this network namespace or another one.
///
/// Calls are synchronous (a batch is one `sendmsg` plus reading its acknowledgements) and
/// serialised: the connection can be shared between tasks.
public final class NFTConnection: Sendable {
    private struct State {
        let socket: NetlinkSocket
        var sequence: UInt32
    }

    private let state: Mutex<State>

    /// Opens a connection in the current network namespace.
    public convenience init() throws(NFTError) {
        try self.init(namespacePath: nil)
    }

    /// Opens a connection in the network namespace at `path` (`/run/netns/NAME` or
    /// `/proc/PID/ns/net`). Only the socket lives there; the calling thread stays where it was.
    public convenience init(networkNamespace path: String) throws(NFTError) {
        try self.init(namespacePath: path)
    }

    private init(namespacePath: String?) throws(NFTError) {
        let socket = try NetlinkSocket(namespacePath: namespacePath)
        state = Mutex(State(socket: socket, sequence: UInt32(truncatingIfNeeded: time(nil))))
    }

    /// Applies `batch` as one transaction. Every command is acknowledged; if the kernel refuses any,
    /// nothing of the batch is applied and the error names the first refused command. Returns the
    /// number of netlink bytes sent.
    @discardableResult
    public func apply(_ batch: NFTBatch) throws(NFTError) -> Int {
        guard !batch.isEmpty else { return 0 }
        return try state.withLock { (state: inout State) throws(NFTError) -> Int in
            let beginSequence = state.sequence
            let encoded = try NetlinkBatchEncoder.encode(batch, firstSequence: beginSequence)
            state.sequence = encoded.nextSequence
            // Commands with nothing to send (an empty element list) leave nothing to wait for.
            guard !encoded.commandForSequence.isEmpty else { return 0 }
            state.socket.reserve(sendBytes: encoded.bytes.count, acknowledgements: encoded.commandForSequence.count)
            try state.socket.send(encoded.bytes)

            var pending = Set(encoded.commandForSequence.keys)
            var failures: [Int: Int32] = [:]
            var batchError: Int32 = 0
            do throws(NFTError) {
                try state.socket.receive(timeout: 2000) { reply in
                    guard reply.isError else { return true }
                    if pending.remove(reply.sequence) != nil {
                        if reply.error != 0, let index = encoded.commandForSequence[reply.sequence], failures[index] == nil {
                            failures[index] = reply.error
                        }
                    } else if reply.error != 0, reply.sequence == beginSequence || reply.sequence == encoded.nextSequence - 1 {
                        // The batch as a whole was refused (e.g. EPERM without CAP_NET_ADMIN).
                        batchError = reply.error
                        return false
                    }
                    return !pending.isEmpty
                }
            } catch .system(_, let code) where code == ENOBUFS || code == ETIMEDOUT {
                throw .missingAcknowledgements(commands: Set(pending.compactMap { encoded.commandForSequence[$0] }).sorted())
            }
            if batchError != 0 { throw .system(operation: "nf_tables batch", errno: batchError) }
            if let (index, code) = failures.min(by: { $0.key < $1.key }) {
                throw .commandFailed(index: index, command: batch.commands[index].description, errno: code)
            }
            return encoded.bytes.count
        }
    }

    /// The chains and named sets in `table`, or nil if the table does not exist. Reads this one
    /// table only; used to adopt an existing table at start-up and by `--cleanup`.
    public func contents(of table: NFTTable) throws(NFTError) -> NFTTableContents? {
        try state.withLock { (state: inout State) throws(NFTError) in
            try state.socket.contents(of: table, sequence: &state.sequence)
        }
    }

    /// Runs a read request on the socket with the connection's sequence numbers (`NFTSetElementDump.swift`).
    func withSocket<T: Sendable>(_ body: (NetlinkSocket, inout UInt32) throws(NFTError) -> T) throws(NFTError) -> T {
        try state.withLock { (state: inout State) throws(NFTError) -> T in try body(state.socket, &state.sequence) }
    }

    /// Deletes `table` if it exists; other tables are never touched. Returns whether it existed.
    /// One transaction: a table that is not there is not an error here.
    @discardableResult
    public func deleteTableIfPresent(_ table: NFTTable) throws(NFTError) -> Bool {
        do {
            try apply(NFTBatch([.deleteTable(table)]))
            return true
        } catch .commandFailed(_, _, let code) where code == ENOENT {
            return false
        }
    }
}
