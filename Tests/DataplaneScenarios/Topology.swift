import Foundation
import ProxyModel

/// A node, its clients and pod backends, as network namespaces joined by veth pairs. Every pod has
/// its own link and /24, so all pod traffic is routed by the node (no bridge, no br_netfilter):
///
/// ```
///  client 192.168.50.2 ──ext0── node 192.168.50.1      (off-cluster client; the node's uplink)
///  cpod   10.180.100.2 ──c0──── node 10.180.100.1      (in-cluster client pod)
///  pod i  10.180.i.2   ──p<i>── node 10.180.i.1        (backends, i = 1...n; echo servers on 8080)
/// ```
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

    public static func podAddress(_ i: Int) -> IPAddress { IPAddress("10.180.\(i).2")! }
    public static func podGateway(_ i: Int) -> IPAddress { IPAddress("10.180.\(i).1")! }

    public let suffix: String
    public let node: String
    public let client: String
    public let podClient: String
    public let pods: [String]
    private var servers: [Process] = []
    private var created: [String] = []

    /// The namespace a rule backend must program: run its commands under this prefix.
    public var nodeCommandPrefix: [String] { ["ip", "netns", "exec", node] }

    public init(pods count: Int) throws {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        self.suffix = suffix
        node = "skp-node-\(suffix)"
        client = "skp-cli-\(suffix)"
        podClient = "skp-cpod-\(suffix)"
        pods = (1...max(count, 1)).map { "skp-pod\($0)-\(suffix)" }
        do {
            try build()
        } catch {
            teardown()
            throw error
        }
    }

    private func ns(_ name: String, _ args: String...) throws {
        try Shell.run(["ip", "-n", name] + args.flatMap { $0.split(separator: " ").map(String.init) })
    }

    private func build() throws {
        for name in [node, client, podClient] + pods {
            try Shell.run(["ip", "netns", "add", name])
            created.append(name)
            try ns(name, "link set lo up")
        }
        try Shell.run(["ip", "netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
        try link(peer: client, nodeSide: "ext0", nodeAddress: "192.168.50.1/24", peerAddress: "192.168.50.2/24", gateway: "192.168.50.1")
        try link(peer: podClient, nodeSide: "c0", nodeAddress: "10.180.100.1/24", peerAddress: "10.180.100.2/24", gateway: "10.180.100.1")
        for (i, pod) in pods.enumerated() {
            let n = i + 1
            try link(peer: pod, nodeSide: "p\(n)", nodeAddress: "10.180.\(n).1/24", peerAddress: "10.180.\(n).2/24", gateway: "10.180.\(n).1")
        }
        // Traffic that no Service rule captured leaves by the uplink, as on a real node.
        try ns(node, "route add default via 192.168.50.2")
        for (i, pod) in pods.enumerated() { try startEchoServer(in: pod, address: Topology.podAddress(i + 1)) }
    }

    private func link(peer: String, nodeSide: String, nodeAddress: String, peerAddress: String, gateway: String) throws {
        try ns(node, "link add \(nodeSide) type veth peer name eth0 netns \(peer)")
        try ns(node, "addr add \(nodeAddress) dev \(nodeSide)")
        try ns(node, "link set \(nodeSide) up")
        try ns(peer, "addr add \(peerAddress) dev eth0")
        try ns(peer, "link set eth0 up")
        try ns(peer, "route add default via \(gateway)")
    }

    private func startEchoServer(in pod: String, address: IPAddress) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", pod, "python3", "-u", "-c", EchoScripts.server, "\(address)", "\(Topology.backendPort)"]
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
        case .externalClient: client
        case .podClient: podClient
        case .node: node
        }
        let output = try Shell.run(["ip", "netns", "exec", nsName, "python3", "-c", EchoScripts.client,
                                    p.proto.rawValue.lowercased(), "\(p.address)", "\(p.port)", "\(p.count)", "\(p.timeoutSeconds)"])
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
    /// TCP and UDP echo on addr:port: answers "<own address> <peer address it saw>".
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
            c.sendall(("%s %s\\n" % (addr, peer[0])).encode())
        finally:
            c.close()
    """

    /// Connects `count` times (a new socket, so a new flow, each time); prints per attempt
    /// "OK <server> <peer-seen>", "REFUSED", "TIMEOUT" or "ERR <text>".
    static let client = """
    import socket, sys
    proto, host, port, count, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    for _ in range(count):
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        s = socket.socket(socket.AF_INET, kind); s.settimeout(timeout)
        try:
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
