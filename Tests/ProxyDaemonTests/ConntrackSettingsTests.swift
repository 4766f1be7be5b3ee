@testable import ProxyDaemon
import Testing

/// The conntrack sysctls kube-proxy sets at start-up, computed without touching the machine.
@Suite struct ConntrackSettingsTests {
    let dir = "/proc/sys/net/netfilter/"

    @Test func maxIsPerCoreScaledWithAFloorAndACap() {
        let c = ConntrackSettings()
        #expect(c.conntrackMax(cpus: 2) == 131_072)         // 65,536 scaled is under the 128 Ki floor
        #expect(c.conntrackMax(cpus: 8) == 262_144)
        #expect(c.conntrackMax(cpus: 256) == 1_048_576)     // capped at 1 Mi
        var off = c
        off.maxPerCore = 0
        #expect(off.conntrackMax(cpus: 8) == 0)
    }

    /// kube-proxy's defaults on a node with the kernel's own values: max, hash size and the two TCP timeouts.
    @Test func defaultsOnAFreshNode() {
        let kernel = [dir + "nf_conntrack_max": 65_536, "/sys/module/nf_conntrack/parameters/hashsize": 16_384,
                      dir + "nf_conntrack_tcp_timeout_established": 432_000, dir + "nf_conntrack_tcp_timeout_close_wait": 60]
        let writes = ConntrackSettings().writes(cpus: 8) { kernel[$0] }
        #expect(writes.map(\.description) == [
            dir + "nf_conntrack_max=262144",
            "/sys/module/nf_conntrack/parameters/hashsize=65536",
            dir + "nf_conntrack_tcp_timeout_established=86400",
            dir + "nf_conntrack_tcp_timeout_close_wait=3600",
        ])
    }

    /// Only what differs is written; a higher max (or hash size) is left as it is, never lowered.
    @Test func onlyWhatDiffersAndNeverLower() {
        let node = [dir + "nf_conntrack_max": 2_000_000, "/sys/module/nf_conntrack/parameters/hashsize": 500_000,
                    dir + "nf_conntrack_tcp_timeout_established": 86_400, dir + "nf_conntrack_tcp_timeout_close_wait": 3600]
        #expect(ConntrackSettings().writes(cpus: 8) { node[$0] } == [])
    }

    /// Zero leaves a sysctl alone; the UDP timeouts and be-liberal are written only when set.
    @Test func zeroLeavesAloneAndOptionalOnesAreWrittenWhenSet() {
        var c = ConntrackSettings()
        c.maxPerCore = 0
        c.tcpEstablishedTimeout = .zero
        c.tcpCloseWaitTimeout = .zero
        #expect(c.writes(cpus: 4) { _ in nil } == [])
        c.tcpBeLiberal = true
        c.udpTimeout = .seconds(30)
        c.udpStreamTimeout = .seconds(120)
        #expect(c.writes(cpus: 4) { _ in nil }.map(\.description) == [
            dir + "nf_conntrack_tcp_be_liberal=1", dir + "nf_conntrack_udp_timeout=30", dir + "nf_conntrack_udp_timeout_stream=120",
        ])
    }
}
