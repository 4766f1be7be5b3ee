/// kube-proxy's `conntrack` settings (v1alpha1 `conntrack:`, v1alpha2 `linux.conntrack:`), with its
/// defaults, and the sysctl writes they amount to (cmd/kube-proxy/app/conntrack.go). A zero value
/// leaves that sysctl as the node has it.
public struct ConntrackSettings: Sendable, Equatable {
    /// nf_conntrack_max per CPU; 0 leaves nf_conntrack_max alone.
    public var maxPerCore = 32 * 1024
    /// The floor of nf_conntrack_max.
    public var min = 128 * 1024
    /// 1 day, a fifth of the kernel's default: an idle connection's entry does not pin NAT for 5 days.
    public var tcpEstablishedTimeout: Duration = .seconds(24 * 3600)
    /// 1 hour (kubernetes#32551): a half-closed connection keeps its NAT for as long as servers wait.
    public var tcpCloseWaitTimeout: Duration = .seconds(3600)
    public var tcpBeLiberal = false
    public var udpTimeout: Duration = .zero
    public var udpStreamTimeout: Duration = .zero

    public init() {}

    /// kube-proxy caps the scaled value so a many-core machine does not reserve gigabytes.
    static let maxLimit = 1 << 20

    static let sysctlDirectory = "/proc/sys/net/netfilter/"
    static let hashsizePath = "/sys/module/nf_conntrack/parameters/hashsize"

    /// nf_conntrack_max for a machine of `cpus` CPUs: maxPerCore × cpus, at least `min`, at most
    /// 1 Mi; 0 when maxPerCore is 0 (not managed).
    public func conntrackMax(cpus: Int) -> Int {
        guard maxPerCore > 0 else { return 0 }
        return Swift.min(Swift.max(maxPerCore * cpus, min), Self.maxLimit)
    }

    /// One value to write to a file under /proc/sys or /sys.
    public struct Write: Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var value: Int
        public var description: String { "\(path)=\(value)" }
    }

    /// What to write, given the current values (`current(path)`, nil when unreadable), in kube-proxy's
    /// order and with its rules: nf_conntrack_max only raised, never lowered; the hash table raised
    /// to a quarter of it; every other sysctl written only when it differs.
    public func writes(cpus: Int, current: (String) -> Int?) -> [Write] {
        var result: [Write] = []
        func set(_ name: String, _ value: Int) {
            let path = Self.sysctlDirectory + name
            if current(path) != value { result.append(Write(path: path, value: value)) }
        }
        func seconds(_ d: Duration) -> Int { Int(d.components.seconds) }

        let max = conntrackMax(cpus: cpus)
        if max > 0 {
            let path = Self.sysctlDirectory + "nf_conntrack_max"
            if let now = current(path), now >= max {
                // Someone set it higher: leave it.
            } else {
                result.append(Write(path: path, value: max))
            }
            if let hashsize = current(Self.hashsizePath), hashsize >= max / 4 {
                // Large enough already.
            } else {
                result.append(Write(path: Self.hashsizePath, value: max / 4))
            }
        }
        if seconds(tcpEstablishedTimeout) > 0 { set("nf_conntrack_tcp_timeout_established", seconds(tcpEstablishedTimeout)) }
        if seconds(tcpCloseWaitTimeout) > 0 { set("nf_conntrack_tcp_timeout_close_wait", seconds(tcpCloseWaitTimeout)) }
        if tcpBeLiberal { set("nf_conntrack_tcp_be_liberal", 1) }
        if seconds(udpTimeout) > 0 { set("nf_conntrack_udp_timeout", seconds(udpTimeout)) }
        if seconds(udpStreamTimeout) > 0 { set("nf_conntrack_udp_timeout_stream", seconds(udpStreamTimeout)) }
        return result
    }
}
