import Glibc

public enum ConntrackError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed.
    case system(String, Int32)
    /// The kernel answered a request with an error.
    case netlink(Int32)

    public var description: String {
        switch self {
        case let .system(call, code): "\(call): \(String(cString: strerror(code)))"
        case let .netlink(code): "ctnetlink: \(String(cString: strerror(code)))"
        }
    }
}
