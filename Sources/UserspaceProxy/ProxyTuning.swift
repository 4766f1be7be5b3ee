import CLinuxSyscalls
import Glibc

/// Knobs of the userspace proxy. The defaults suit a node proxy; docs/userspace-proxy.md lists them.
public struct ProxyTuning: Sendable {
    /// Event loops (threads), each with its own epoll and its own SO_REUSEPORT listener per address.
    /// Default: one per online CPU.
    public var eventLoops: Int = ProxyTuning.onlineCPUs
    /// How long the first connect to an endpoint may take before the next dial; each later dial
    /// may take twice as long as the one before, for `dialAttempts` steps: 250 ms, 500 ms, 1 s, 2 s,
    /// kube-proxy's historic userspace ladder. Linux resends a lost SYN only after 1 s (its initial
    /// RTO), so a first timeout of 1 s would fail exactly the clients whose first SYN was lost;
    /// a fresh dial after 250 ms sends a new SYN at once, and the longer later steps still wait
    /// out an endpoint that is merely slow.
    public var dialTimeout: Duration = .milliseconds(250)
    /// Dials before the client is reset: this many, or once round the endpoints if there are more.
    public var dialAttempts: Int = 4
    /// A relay with no traffic either way for this long is closed.
    public var tcpIdleTimeout: Duration = .seconds(3600)
    /// A UDP flow (client ↔ endpoint) with no datagram either way for this long is forgotten.
    public var udpFlowTimeout: Duration = .seconds(30)
    /// Capacity of each splice pipe (F_SETPIPE_SZ), i.e. how much one direction holds in flight.
    public var pipeSize: Int = 64 * 1024
    /// Copy buffer: small messages are copied through one per loop; a read that fills it marks
    /// the stream as bulk (then splice). Also the most a copying direction holds in flight.
    public var bufferSize: Int = 16 * 1024
    /// Idle pipe pairs (and spill buffers) each loop keeps for reuse, saving two pipe2 and two
    /// close calls per bulk connection.
    public var pipePoolLimit: Int = 128
    /// listen(2) backlog (the kernel caps it at net.core.somaxconn).
    public var listenBacklog: Int32 = 4096
    /// First pause of accepting after EMFILE/ENFILE; doubles up to `acceptBackoffLimit`.
    public var acceptBackoff: Duration = .milliseconds(10)
    public var acceptBackoffLimit: Duration = .seconds(1)
    /// Relay bulk streams through splice(2) and a pipe pair (zero-copy); false: always copy.
    public var useSplice = true
    /// EEVDF time slice requested for the loop threads (sched_setattr, Linux 6.12+): a short slice
    /// lets a loop woken by a packet preempt batch work on its core sooner. Same priority and
    /// weight as before; nil leaves the kernel default (about 3 ms).
    public var schedulerSlice: Duration? = .microseconds(100)
    /// Largest UDP datagram relayed.
    public var maxDatagramSize: Int = 65_535
    /// UDP flows one listening address of a rule may hold in one loop; at the cap its least recently
    /// active flow is evicted for a new client. Every flow holds a socket, so this bounds what a
    /// flood from many source ports can take.
    public var maxUDPFlowsPerRule: Int = 4_096
    /// UDP flows one loop may hold in all; at the cap a new client evicts its own rule's least
    /// recently active flow (never another rule's), or is dropped if that rule has none.
    public var maxUDPFlowsPerLoop: Int = 16_384
    /// Accepts or datagrams one socket is served per wake-up before the loop turns to the others
    /// (and comes back to it after the batch), so one flooded socket cannot starve a loop.
    public var readBudget: Int = 64

    public init() {}

    /// The timeout of the dial at ladder step `step` (0-based): `dialTimeout` doubled `step` times.
    public func dialTimeout(step: Int) -> Duration {
        dialTimeout * (1 << max(0, min(step, 16)))
    }

    public static var onlineCPUs: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// CPUs this process may run on (taskset, cpuset): fewer than `onlineCPUs` when pinned.
    public static var allowedCPUs: Int { max(1, Int(clinux_allowed_cpu_count())) }
}
