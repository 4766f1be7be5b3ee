import Foundation
import ProxyModel

/// A node, its clients and pod backends, as network namespaces joined by veth pairs. Every pod has
/// its own link and /24, so all pod traffic is routed by the node (no bridge, no br_netfilter):
///
/// ```
///  client 192.168.50.2 ──ext0── node 192.168.50.1      (off-cluster client; the node's uplink)
///  cpod   10.180.100.2 ──c0──── node 10.180.100.1      (in-cluster client pod)
///  pod i  10.180.i.2   ──p<i>── node 10.180.i.1        (backends, i = 1...n; echo servers on 8080)
///                                  node 192.168.55.1       (a second node address, on a link of its own)
///  node2  192.168.49.2 ──n2──── node 192.168.49.1      (only when the scenario has remote pods)
///  pod r  10.180.r.2   ──p<r>── node2 10.180.r.1       (remote backends: node routes 10.180.r.0/24 via node2)
/// ```
///
/// The client namespace also holds the *blocked* client 192.168.51.2 (a second source outside the
/// allowed ranges, no namespace of its own) and the "real" owner of 192.168.80.10 and 172.30.0.99: an echo server on
/// port 80 that answers whatever the node did not intercept, as a cloud load balancer or an
/// off-cluster host would.
///
/// Names carry a random suffix; `teardown()` (always called by the runner) stops the servers and
/// deletes every namespace, which removes its links and rules with it. Nothing touches the host's
/// own namespace except `ip netns add/del`.
public final class Topology {
    public static let nodeAddress = IPAddress("192.168.50.1")!
    public static let externalClientAddress = IPAddress("192.168.50.2")!
    public static let podClientAddress = IPAddress("10.180.100.2")!
    public static let clusterCIDR = CIDR("10.180.0.0/16")!
    public static let backendPort = 8080
    /// A second address of the node (not the primary one, not on the uplink): for `nodePortAddresses`.
    public static let nodeSecondAddress = IPAddress("192.168.55.1")!
    /// The node's address on its link to node 2: the source remote pods see when masqueraded.
    public static let nodeInterNodeAddress = IPAddress("192.168.49.1")!
    public static let node2Address = IPAddress("192.168.49.2")!
    /// Off-cluster like the external client, but outside every source range the scenarios allow.
    public static let blockedClientAddress = IPAddress("192.168.51.2")!
    /// Really lives off the node (the outside echo server): where an uncaptured packet lands.
    public static let outsideAddress = IPAddress("192.168.80.10")!
    /// An address inside the Service CIDR that no Service has: off the node too, so a packet to it
    /// that the node does not drop is answered by the outside host.
    public static let unallocatedClusterIP = IPAddress("172.30.0.99")!
    public static let outsideAddresses = [outsideAddress, unallocatedClusterIP]
    public static let outsidePort = 80

    public static func podAddress(_ i: Int) -> IPAddress { IPAddress("10.180.\(i).2")! }
    public static func podGateway(_ i: Int) -> IPAddress { IPAddress("10.180.\(i).1")! }

    public let suffix: String
    public let node: String
    public let client: String
    public let podClient: String
    public let pods: [String]
    /// Pods (1-based) that live behind node 2 (their endpoints are `isLocal: false` for real).
    public let remotePods: Set<Int>
    public let node2: String?
    private var servers: [Process] = []
    private var created: [String] = []

    /// The namespace a rule backend must program: run its commands under this prefix.
    public var nodeCommandPrefix: [String] { ["ip", "netns", "exec", node] }

    public init(pods count: Int, remotePods: Set<Int> = []) throws {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        self.suffix = suffix
        node = "skp-node-\(suffix)"
        client = "skp-cli-\(suffix)"
        podClient = "skp-cpod-\(suffix)"
        pods = (1...max(count, 1)).map { "skp-pod\($0)-\(suffix)" }
        self.remotePods = remotePods
        node2 = remotePods.isEmpty ? nil : "skp-node2-\(suffix)"
        do {
            try build()
        } catch {
            teardown()
            throw error
        }
    }

    /// A client on the uplink sending to an address routed back out of the uplink (an LB IP nobody
    /// captured) would get an ICMP redirect to itself and then lose the node's REJECT: a real router
    /// in front of the node has no such shortcut. Set before any link exists, so `default` covers them.
    static let noRedirects = ["net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.default.send_redirects=0"]

    private func ns(_ name: String, _ args: String...) throws {
        try Shell.run(["ip", "-n", name] + args.flatMap { $0.split(separator: " ").map(String.init) })
    }

    private func build() throws {
        for name in [node, client, podClient] + [node2].compactMap({ $0 }) + pods {
            try Shell.run(["ip", "netns", "add", name])
            created.append(name)
            try ns(name, "link set lo up")
        }
        try Shell.run(["ip", "netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1"] + Topology.noRedirects)
        try link(peer: client, nodeSide: "ext0", nodeAddress: "192.168.50.1/24", peerAddress: "192.168.50.2/24", gateway: "192.168.50.1")
        try link(peer: podClient, nodeSide: "c0", nodeAddress: "10.180.100.1/24", peerAddress: "10.180.100.2/24", gateway: "10.180.100.1")
        if let node2 {
            try Shell.run(["ip", "netns", "exec", node2, "sysctl", "-qw", "net.ipv4.ip_forward=1"] + Topology.noRedirects)
            try link(peer: node2, nodeSide: "n2", nodeAddress: "\(Topology.nodeInterNodeAddress)/24",
                     peerAddress: "\(Topology.node2Address)/24", gateway: "\(Topology.nodeInterNodeAddress)")
        }
        for (i, pod) in pods.enumerated() {
            let n = i + 1
            let host = remotePods.contains(n) ? node2 ?? node : node
            try link(peer: pod, nodeSide: "p\(n)", nodeAddress: "10.180.\(n).1/24", peerAddress: "10.180.\(n).2/24", gateway: "10.180.\(n).1", on: host)
            if host != node { try ns(node, "route add 10.180.\(n).0/24 via \(Topology.node2Address)") }
        }
        // A second node address, and the blocked client's and the outside host's addresses behind the uplink.
        // (A veth pair with both ends in the node: the dummy link type may not be built into the kernel.)
        try ns(node, "link add sec0 type veth peer name sec1")
        try ns(node, "addr add \(Topology.nodeSecondAddress)/32 dev sec0")
        try ns(node, "link set sec0 up")
        try ns(node, "link set sec1 up")
        try ns(client, "addr add \(Topology.blockedClientAddress)/32 dev lo")
        for a in Topology.outsideAddresses { try ns(client, "addr add \(a)/32 dev lo") }
        // Traffic that no Service rule captured leaves by the uplink, as on a real node.
        try ns(node, "route add default via 192.168.50.2")
        for (i, pod) in pods.enumerated() { try startEchoServer(in: pod, address: Topology.podAddress(i + 1)) }
        try startEchoServer(in: client, address: IPAddress("0.0.0.0")!, port: Topology.outsidePort)
    }

    private func link(peer: String, nodeSide: String, nodeAddress: String, peerAddress: String, gateway: String, on host: String? = nil) throws {
        let node = host ?? self.node
        try ns(node, "link add \(nodeSide) type veth peer name eth0 netns \(peer)")
        try ns(node, "addr add \(nodeAddress) dev \(nodeSide)")
        try ns(node, "link set \(nodeSide) up")
        try ns(peer, "addr add \(peerAddress) dev eth0")
        try ns(peer, "link set eth0 up")
        try ns(peer, "route add default via \(gateway)")
    }

    private func startEchoServer(in pod: String, address: IPAddress, port: Int = Topology.backendPort) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", pod, "python3", "-u", "-c", EchoScripts.server, "\(address)", "\(port)"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        servers.append(process)
        // Ready once it says so (it has bound both sockets); a condition, not a sleep.
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("ready") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { throw Shell.Failure(argv: process.arguments ?? [], status: -1, output: "echo server exited") }
            seen += chunk
        }
    }

    /// Runs the probe client in `from` and returns one result per attempt.
    public func probe(from: ProbeSource, _ p: Probe) throws -> [ProbeResult] {
        let nsName = switch from {
        case .externalClient, .blockedClient: client
        case .podClient: podClient
        case .node, .nodeFrom: node
        case .pod(let i): pods[i - 1]
        }
        // The blocked client shares the client's namespace: it binds its own source address.
        let bind: [String] = switch from {
        case .blockedClient, .nodeFrom: ["\(from.address)"]
        default: []
        }
        let output = try Shell.run(["ip", "netns", "exec", nsName, "python3", "-c", EchoScripts.client,
                                    p.proto.rawValue.lowercased(), "\(p.address)", "\(p.port)", "\(p.count)", "\(p.timeoutSeconds)"] + bind)
        return output.split(separator: "\n").map { ProbeResult(line: String($0)) }
    }

    public func teardown() {
        // SIGKILL: a child may inherit a blocked SIGTERM from the test runner.
        for s in servers where s.isRunning {
            kill(s.processIdentifier, SIGKILL)
            s.waitUntilExit()
        }
        servers = []
        for name in created.reversed() { _ = try? Shell.run(["ip", "netns", "del", name]) }
        created = []
    }

    deinit { teardown() }
}

/// The small programs run in the namespaces (python3 is on every test host; no packages needed).
enum EchoScripts {
    /// TCP and UDP echo on addr:port: answers "<own address> <peer address it saw>" (over TCP the
    /// address the connection reached, so one server on 0.0.0.0 tells which of its addresses was hit).
    static let server = """
    import socket, sys, threading
    addr, port = sys.argv[1], int(sys.argv[2])
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, port)); t.listen(128)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((addr, port))
    def udp():
        while True:
            data, peer = u.recvfrom(2048)
            u.sendto(("%s %s\\n" % (addr, peer[0])).encode(), peer)
    threading.Thread(target=udp, daemon=True).start()
    print("ready", flush=True)
    while True:
        c, peer = t.accept()
        try:
            c.sendall(("%s %s\\n" % (c.getsockname()[0], peer[0])).encode())
        finally:
            c.close()
    """

    /// Connects `count` times (a new socket, so a new flow, each time); prints per attempt
    /// "OK <server> <peer-seen>", "REFUSED", "TIMEOUT" or "ERR <text>".
    static let client = """
    import socket, sys
    proto, host, port, count, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    source = sys.argv[6] if len(sys.argv) > 6 else None
    for _ in range(count):
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        s = socket.socket(socket.AF_INET, kind); s.settimeout(timeout)
        try:
            if source:
                s.bind((source, 0))
            s.connect((host, port))
            if proto == "udp":
                s.send(b"hello")
            data = s.recv(2048).decode().strip()
            print("OK " + data if data else "ERR empty")
        except ConnectionRefusedError:
            print("REFUSED")
        except socket.timeout:
            print("TIMEOUT")
        except OSError as e:
            print("ERR " + str(e).replace("\\n", " "))
        finally:
            s.close()
        sys.stdout.flush()
    """
}
