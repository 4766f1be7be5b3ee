import DataplaneScenarios
import Foundation
import ProxyModel
import Testing
@testable import RuleSync

/// Issue 11 in iptables mode, with real packets in the scenario topology (client, node, pods):
/// localhost NodePorts with `route_localnet` and the anti-martian rule, `nodePortAddresses` per
/// family, and the forward path's `ctstate INVALID` drop with its counter.
@Suite(.serialized, .enabled(if: Shell.canRunNamespaces, "needs root, ip netns and python3"))
struct IPTablesLocalhostNodePortTests {
    typealias W = ScenarioWorld
    static let loopback = IPAddress("127.0.0.1")!

    /// A NodePort Service on pods 1 and 2, and a backend for it in the topology's node namespace.
    struct Fixture {
        let topology: Topology
        let variant: IPTablesVariant
        let backend: IPTablesBackend
        let snapshot = W.snapshot([(W.service(nodePort: W.nodePort), W.endpoints([1, 2]))])

        init(variant: IPTablesVariant, localhostNodePorts: Bool = true, nodePortAddresses: [CIDR] = []) throws {
            topology = try Topology(pods: 2)
            self.variant = variant
            let config = RuleSyncConfig(clusterCIDRs: [Topology.clusterCIDR], nodePortAddresses: nodePortAddresses,
                                        localhostNodePorts: localhostNodePorts)
            backend = IPTablesBackend(config: config, variant: variant == .nft ? .nft : .legacy, families: [.ipv4],
                                      commandPrefix: topology.nodeCommandPrefix, cleansConntrack: false)
        }

        func inNode(_ args: String...) throws -> String { try Shell.run(topology.nodeCommandPrefix + args) }

        /// What the daemon does at start-up in iptables mode (`IPTablesSysctls`), here in the node namespace.
        func setRouteLocalnet() throws { _ = try inNode("sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1") }

        func probe(_ source: ProbeSource, _ address: IPAddress, count: Int = 2, timeout: Double = 2) throws -> [ProbeResult] {
            try topology.probe(from: source, Probe(.tcp, address, W.nodePort, count: count, timeoutSeconds: timeout))
        }
    }

    @Test(arguments: IPTablesVariant.allCases)
    func nodePortAnswersOnLocalhostMasqueraded(_ variant: IPTablesVariant) throws {
        let f = try Fixture(variant: variant)
        defer { f.topology.teardown() }
        try f.setRouteLocalnet()
        _ = try f.backend.sync(f.snapshot, changes: nil)
        let results = try f.probe(.node, Self.loopback, count: 4)
        for r in results {
            guard case .answered(let server, let peer) = r else {
                Issue.record("\(variant): 127.0.0.1:\(W.nodePort) from the node: \(results)")
                return
            }
            #expect([Topology.podAddress(1), Topology.podAddress(2)].contains(server))
            // Masqueraded to the node's address on the pod's link: a 127.0.0.1 source cannot be answered.
            #expect(peer == Topology.podGateway(server == Topology.podAddress(1) ? 1 : 2), "\(variant): pod saw \(peer)")
        }
        // The uplink address serves as before.
        #expect(try f.probe(.externalClient, Topology.nodeAddress).allSatisfy { if case .answered = $0 { true } else { false } })
    }

    @Test(arguments: IPTablesVariant.allCases)
    func localhostNodePortsOffIsRefused(_ variant: IPTablesVariant) throws {
        let f = try Fixture(variant: variant, localhostNodePorts: false)
        defer { f.topology.teardown() }
        try f.setRouteLocalnet()   // even where route_localnet is on, nothing DNATs loopback
        let report = try f.backend.sync(f.snapshot, changes: nil)
        #expect(report.full)
        // Not intercepted: the node's own stack answers, and nothing listens there.
        #expect(try f.probe(.node, Self.loopback) == [.refused, .refused], "\(variant)")
        #expect(try !f.inNode(variant.saveCommand(.ipv4), "-t", "filter").contains("block incoming localnet"))
    }

    /// `nodePortAddresses` with only an IPv6 prefix: IPv4 has no prefix, so every IPv4 node address
    /// serves NodePorts (upstream's per-family NodePortAddresses); before, IPv4 served none.
    @Test(arguments: IPTablesVariant.allCases)
    func onlyIPv6NodePortAddressesStillServeIPv4(_ variant: IPTablesVariant) throws {
        let f = try Fixture(variant: variant, localhostNodePorts: false, nodePortAddresses: [CIDR("fd00::/64")!])
        defer { f.topology.teardown() }
        _ = try f.backend.sync(f.snapshot, changes: nil)
        let results = try f.probe(.externalClient, Topology.nodeAddress, count: 4)
        #expect(results.allSatisfy { if case .answered = $0 { true } else { false } }, "\(variant): \(results)")
        // A second node address (pod-side link) serves too.
        let second = try f.probe(.podClient, IPAddress("10.180.100.1")!, count: 2)
        #expect(second.allSatisfy { if case .answered = $0 { true } else { false } }, "\(variant): \(second)")
    }

    /// route_localnet lets packets from other hosts to 127.0.0.0/8 in (kubernetes#90259): a service
    /// bound to localhost on the node would answer them. The anti-martian rule drops them.
    @Test(arguments: IPTablesVariant.allCases)
    func martianToLocalhostFromUplinkIsDropped(_ variant: IPTablesVariant) throws {
        let f = try Fixture(variant: variant)
        defer { f.topology.teardown() }
        try f.setRouteLocalnet()
        let listener = try Listener(namespace: f.topology.node, addresses: ["127.0.0.1:9999", "192.168.50.1:9998"])
        defer { listener.stop() }
        let uplink = try RawSender(topology: f.topology)
        // The client has no socket for these: keep it from resetting the half-open connections we look for.
        try Shell.run(["ip", "netns", "exec", f.topology.client, variant.iptablesCommand(.ipv4), "-w",
                       "-A", "INPUT", "-p", "tcp", "--tcp-flags", "SYN,ACK", "SYN,ACK", "-j", "DROP"])

        // Without our rules the hole is there: the spoofed SYN reaches the localhost listener.
        try uplink.send(.init(src: "192.168.50.2", sport: 41001, dst: "127.0.0.1", dport: 9999, flags: .syn),
                        .init(src: "192.168.50.2", sport: 41002, dst: "192.168.50.1", dport: 9998, flags: .syn))
        var seen = try synReceived(f, control: 41002)
        #expect(seen.contains(41001), "\(variant): control run, the SYN to 127.0.0.1 did not arrive: \(seen)")

        _ = try f.backend.sync(f.snapshot, changes: nil)
        try uplink.send(.init(src: "192.168.50.2", sport: 41003, dst: "127.0.0.1", dport: 9999, flags: .syn),
                        .init(src: "192.168.50.2", sport: 41004, dst: "192.168.50.1", dport: 9998, flags: .syn))
        seen = try synReceived(f, control: 41004)
        #expect(!seen.contains(41003), "\(variant): a SYN from the uplink to 127.0.0.1 reached the node's localhost listener")
    }

    /// An INVALID packet (a bare ACK with no connection, `nf_conntrack_tcp_loose=0` in the node
    /// namespace) through the forward path to a pod is dropped, and counted.
    @Test(arguments: IPTablesVariant.allCases)
    func invalidStateForwardedPacketIsDroppedAndCounted(_ variant: IPTablesVariant) throws {
        let f = try Fixture(variant: variant)
        defer { f.topology.teardown() }
        _ = try f.inNode("sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_loose=0")
        let pod = f.topology.pods[0]
        let podIPTables = ["ip", "netns", "exec", pod, variant.iptablesCommand(.ipv4), "-w"]
        for port in 42001...42004 { try Shell.run(podIPTables + ["-A", "INPUT", "-p", "tcp", "--sport", "\(port)"]) }
        func arrived(_ port: Int) throws -> Int {
            let listing = try Shell.run(podIPTables + ["-L", "INPUT", "-n", "-v", "-x"])
            let line = listing.split(separator: "\n").first { $0.contains("spt:\(port)") } ?? ""
            return Int(line.split(separator: " ").first ?? "") ?? -1
        }
        func waitFor(_ port: Int) throws {
            // Polled, not slept: the control SYN follows the ACK on the same path.
            var tries = 0
            while try arrived(port) < 1 && tries < 500 {
                usleep(10_000)
                tries += 1
            }
        }
        let uplink = try RawSender(topology: f.topology)
        let pod1 = Topology.podAddress(1).description

        // Control run without our rules: the kernel forwards the INVALID packet.
        try uplink.send(.init(src: "192.168.50.2", sport: 42001, dst: pod1, dport: 8080, flags: .ack),
                        .init(src: "192.168.50.2", sport: 42002, dst: pod1, dport: 8080, flags: .syn))
        try waitFor(42002)
        #expect(try arrived(42001) == 1, "\(variant): control run, the bare ACK was not forwarded")

        let first = try f.backend.sync(f.snapshot, changes: nil)
        #expect(first.invalidDroppedPackets == 0)
        try uplink.send(.init(src: "192.168.50.2", sport: 42003, dst: pod1, dport: 8080, flags: .ack),
                        .init(src: "192.168.50.2", sport: 42004, dst: pod1, dport: 8080, flags: .syn))
        try waitFor(42004)
        #expect(try arrived(42004) >= 1)
        #expect(try arrived(42003) == 0, "\(variant): the INVALID packet reached the pod")
        let next = try f.backend.sync(f.snapshot, changes: SnapshotDiff(from: f.snapshot, to: f.snapshot))
        #expect(next.invalidDroppedPackets == 1, "\(variant): \(String(describing: next.invalidDroppedPackets))")
        // A full sync rewrites SKP-FORWARD (zeroing its counter); the count carries on.
        let full = try f.backend.sync(f.snapshot, changes: nil)
        #expect(full.invalidDroppedPackets == 1)
    }

    /// The source ports of connections in SYN-RECV on the node, once the control SYN got there.
    private func synReceived(_ f: Fixture, control: Int) throws -> Set<Int> {
        for _ in 0..<500 {
            let ports = Set(try f.inNode("ss", "-Htn", "state", "syn-recv").split(separator: "\n").compactMap { line -> Int? in
                let peer = line.split(separator: " ").last ?? ""
                return Int(peer.split(separator: ":").last ?? "")
            })
            if ports.contains(control) { return ports }
            usleep(10_000)
        }
        Issue.record("the control SYN to port \(control) never arrived")
        return []
    }
}

struct ListenerExited: Error {}

/// TCP listeners in a namespace (python3), stopped by `stop()`.
final class Listener {
    private let process = Process()

    init(namespace: String, addresses: [String]) throws {
        let script = """
        import socket, sys, time
        socks = []
        for a in sys.argv[1:]:
            host, port = a.rsplit(":", 1)
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, int(port))); s.listen(16); socks.append(s)
        print("ready", flush=True)
        time.sleep(3600)
        """
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", namespace, "python3", "-u", "-c", script] + addresses
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("ready") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { throw ListenerExited() }
            seen += chunk
        }
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Hand-made TCP segments sent from the external client straight onto its link to the node
/// (AF_PACKET), so neither its routing (127.0.0.1 would stay local) nor its conntrack interferes.
struct RawSender {
    enum Flags: String { case syn = "S", ack = "A" }
    struct Segment {
        var src: String, sport: Int, dst: String, dport: Int, flags: Flags
    }

    let namespace: String
    let sourceMAC: String
    let nodeMAC: String

    init(topology: Topology) throws {
        namespace = topology.client
        func mac(_ ns: String, _ dev: String) throws -> String {
            try Shell.run(["ip", "netns", "exec", ns, "cat", "/sys/class/net/\(dev)/address"]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        sourceMAC = try mac(topology.client, "eth0")
        nodeMAC = try mac(topology.node, "ext0")
    }

    /// Sends the segments in order, back to back.
    func send(_ segments: Segment...) throws {
        let specs = segments.map { "\($0.src),\($0.sport),\($0.dst),\($0.dport),\($0.flags.rawValue)" }
        try Shell.run(["ip", "netns", "exec", namespace, "python3", "-c", RawSender.script, "eth0", sourceMAC, nodeMAC] + specs)
    }

    static let script = """
    import socket, struct, sys
    iface, src_mac, dst_mac = sys.argv[1:4]
    def csum(b):
        if len(b) % 2: b += b"\\0"
        s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
        while s >> 16: s = (s & 0xffff) + (s >> 16)
        return (~s) & 0xffff
    def mac(m): return bytes(int(x, 16) for x in m.split(":"))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    for spec in sys.argv[4:]:
        src, sport, dst, dport, flags = spec.split(",")
        sip, dip = socket.inet_aton(src), socket.inet_aton(dst)
        bits = {"S": 0x02, "A": 0x10}[flags]
        tcp = struct.pack("!HHIIBBHHH", int(sport), int(dport), 1000, 1 if flags == "A" else 0, 5 << 4, bits, 65535, 0, 0)
        tcp = tcp[:16] + struct.pack("!H", csum(sip + dip + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, sip, dip)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        s.send(mac(dst_mac) + mac(src_mac) + b"\\x08\\x00" + ip + tcp)
    """
}
