import CLinuxSyscalls

/// Knobs of the userspace proxy. The defaults suit a node proxy; the README lists them.
public struct ProxyTuning: Sendable {
    /// Event loops (threads), each with its own epoll and its own SO_REUSEPORT listener per address.
    /// Default: the CPUs this process may run on (so a proxy pinned to one core runs one loop).
    public var eventLoops: Int = ProxyTuning.allowedCPUs
    /// How long a backend connect may take before the next endpoint is tried.
    public var dialTimeout: Duration = .seconds(1)
    /// A relay with no traffic either way for this long is closed.
    public var tcpIdleTimeout: Duration = .seconds(3600)
    /// A UDP flow (client ↔ endpoint) with no datagram either way for this long is forgotten.
    public var udpFlowTimeout: Duration = .seconds(30)
    /// Capacity of each splice pipe (F_SETPIPE_SZ), i.e. how much one direction holds in flight.
    public var pipeSize: Int = 64 * 1024
    /// Size of the copy buffer used where splice cannot be (no pipe available).
    public var bufferSize: Int = 64 * 1024
    /// Idle pipe pairs each loop keeps for reuse, saving two pipe2 + four close per connection.
    public var pipePoolLimit: Int = 128
    /// listen(2) backlog (the kernel caps it at net.core.somaxconn).
    public var listenBacklog: Int32 = 4096
    /// First pause of accepting after EMFILE/ENFILE; doubles up to `acceptBackoffLimit`.
    public var acceptBackoff: Duration = .milliseconds(10)
    public var acceptBackoffLimit: Duration = .seconds(1)
    /// Largest UDP datagram relayed.
    public var maxDatagramSize: Int = 65_535

    public init() {}

    public static var allowedCPUs: Int { max(1, Int(clinux_allowed_cpu_count())) }
}
