#if canImport(Glibc)
import Glibc
#endif

/// What can go wrong talking to nf_tables.
public enum NFTError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kernel refused command `index` of the batch; the whole batch was rolled back.
    case commandFailed(index: Int, command: String, errno: Int32)
    /// The command is malformed (caught before anything was sent).
    case invalidCommand(index: Int, command: String, reason: String)
    /// A socket or namespace operation failed.
    case system(operation: String, errno: Int32)
    /// The kernel did not acknowledge every command (acknowledgements lost, e.g. `ENOBUFS`):
    /// the outcome of the batch is unknown; list the table to find out.
    case missingAcknowledgements(commands: [Int])

    public var description: String {
        switch self {
        case .commandFailed(let index, let command, let code):
            "command \(index) failed: \(command): \(String(cString: strerror(code))) (errno \(code))"
        case .invalidCommand(let index, let command, let reason):
            "command \(index) is invalid: \(command): \(reason)"
        case .system(let operation, let code):
            "\(operation): \(String(cString: strerror(code))) (errno \(code))"
        case .missingAcknowledgements(let commands):
            "no acknowledgement for commands \(commands); the batch outcome is unknown"
        }
    }
}
