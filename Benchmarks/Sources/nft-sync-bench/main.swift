// nft-sync-bench: the nftables backend at scale, in fresh network namespaces (needs root).
//
//   swift run -c release nft-sync-bench [SERVICES] [ENDPOINTS]     (default 10000 × 10)
//
// Topology: client (192.168.50.2) ── node (our table) ── backends (10.180.0.2…, one echo server on
// 0.0.0.0:8080). Every Service port has ENDPOINTS endpoints on the backend addresses. The mix:
// 70 % plain ClusterIP, 10 % NodePort with externalTrafficPolicy Local, 10 % LoadBalancer with
// source ranges, 10 % ClientIP affinity (NFT_BENCH_AFFINITY=0 makes those plain too). Measures the
// full sync, one-Service incremental syncs (an endpoint replaced; a Service added; an endpoint
// added), bytes sent, peak RSS, and the TCP connect latency (median of 200) to the first and to
// the last Service. Namespaces are deleted at exit, whatever happens.
//
// NFT_BENCH_FULL_ONLY=1 makes no namespace and starts no process: one full sync into the current
// network namespace, then exit. For profilers (valgrind cannot follow Foundation's process spawn):
//   ip netns add p && ip netns exec p valgrind --tool=callgrind nft-sync-bench 10000 10; ip netns del p
import Foundation
import ProxyModel
import NFTables
import RuleSync

let services = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1])! : 10_000
let endpointCount = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2])! : 10
let fullOnly = ProcessInfo.processInfo.environment["NFT_BENCH_FULL_ONLY"] != nil
let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
let node = "skp-bnode-\(suffix)", client = "skp-bcli-\(suffix)", pods = "skp-bpods-\(suffix)", scratch = "skp-bscratch-\(suffix)"

@discardableResult
func sh(_ argv: [String]) -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = argv
    let out = Pipe()
    p.standardOutput = out
    try! p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    precondition(p.terminationStatus == 0, "\(argv.joined(separator: " ")) failed")
    return String(decoding: data, as: UTF8.self)
}
func ns(_ name: String, _ args: String) { sh(["ip", "-n", name] + args.split(separator: " ").map(String.init)) }

var server: Process?
@MainActor func teardown() {
    if let server, server.isRunning { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
    for n in [node, client, pods, scratch] {
        let del = Process()
        del.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        del.arguments = ["ip", "netns", "del", n]
        del.standardError = FileHandle.nullDevice  // the scratch namespace exists only with NFT_BENCH_PHASES
        try? del.run()
        del.waitUntilExit()
    }
}
defer { teardown() }
if !fullOnly {
    // However this process ends (a failed precondition, a signal, SIGKILL), a watcher in its own
    // session kills what runs in our namespaces and deletes them once we are gone.
    let namespaces = [node, client, pods, scratch].joined(separator: " ")
    _ = try Process.run(URL(fileURLWithPath: "/usr/bin/env"), arguments: ["setsid", "sh", "-c", """
        while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done
        for n in \(namespaces); do ip netns pids $n 2>/dev/null | xargs -r kill -9; ip netns del $n 2>/dev/null; done
        """])

    for n in [node, client, pods] { sh(["ip", "netns", "add", n]); ns(n, "link set lo up") }
    sh(["ip", "netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
    ns(node, "link add ext0 type veth peer name eth0 netns \(client)")
    ns(node, "addr add 192.168.50.1/24 dev ext0"); ns(node, "link set ext0 up")
    ns(client, "addr add 192.168.50.2/24 dev eth0"); ns(client, "link set eth0 up"); ns(client, "route add default via 192.168.50.1")
    ns(node, "link add p0 type veth peer name eth0 netns \(pods)")
    ns(node, "addr add 10.180.0.1/24 dev p0"); ns(node, "link set p0 up")
    for i in 0..<endpointCount { ns(pods, "addr add 10.180.0.\(i + 2)/24 dev eth0") }
    ns(pods, "link set eth0 up"); ns(pods, "route add default via 10.180.0.1")

    let echo = """
    import socket
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 8080)); s.listen(1024)
    print("ready", flush=True)
    while True:
        c, _ = s.accept(); c.close()
    """
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["ip", "netns", "exec", pods, "python3", "-u", "-c", echo]
    let serverOut = Pipe()
    p.standardOutput = serverOut
    try p.run()
    server = p
    _ = serverOut.fileHandleForReading.availableData  // "ready"
}

/// 172.16.0.1, … : room for more than 100,000 Services (172.16.0.0/12).
func clusterIP(_ i: Int) -> IPAddress { IPAddress(ipv4: 0xAC10_0000 + UInt32(i + 1)) }
func name(_ i: Int) -> ServicePortName {
    ServicePortName(service: NamespacedName(namespace: "bench", name: "svc-\(i)"), port: "http", protocol: .tcp)
}
let nodeInfo = NodeInfo(name: "node1", addresses: [IPAddress("192.168.50.1")!])
var ports: [ServicePortName: ServicePort] = [:], eps: [ServicePortName: [Endpoint]] = [:]
let affinityShare = ProcessInfo.processInfo.environment["NFT_BENCH_AFFINITY"] != "0"
/// The i-th Service of the mix; the first and the last (probed for latency) are plain ClusterIPs.
func servicePort(_ i: Int) -> ServicePort {
    var s = ServicePort(name: name(i), clusterIPs: [clusterIP(i)], port: 80, targetPort: .number(8080))
    guard i != 0 && i != services - 1 else { return s }
    switch i % 10 {
    case 7:
        s.nodePort = 20000 + i / 10
        s.externalTrafficPolicy = .local
        s.healthCheckNodePort = 10256
    case 8:
        s.nodePort = 20000 + i / 10
        s.loadBalancerIPs = [IPAddress("100.64.\(i / 250 % 250).\(i % 250 + 1)")!]
        s.loadBalancerSourceRanges = [CIDR("203.0.113.0/24")!, CIDR("198.51.100.0/24")!]
    case 9 where affinityShare:
        s.sessionAffinity = .clientIP(timeoutSeconds: 10800)
    default: break
    }
    return s
}
for i in 0..<services {
    ports[name(i)] = servicePort(i)
    // Half of the endpoints on this node, for the Local-policy Services.
    eps[name(i)] = (0..<endpointCount).map { Endpoint(address: IPAddress("10.180.0.\($0 + 2)")!, port: 8080, isLocal: $0 % 2 == 0, nodeName: "n\($0)") }.sorted()
}
var snapshot = ProxySnapshot(node: nodeInfo, servicePorts: ports, endpoints: eps)

func peakRSSMiB() -> Double {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
    return Double(line.split(separator: " ").dropFirst().first ?? "0")! / 1024
}
/// CPU time of this thread, kernel work of its netlink sends included: wall time on a loaded
/// machine says more about the other processes than about us.
func threadCPU() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) * 1000 + Double(t.tv_nsec) / 1e6
}
/// User and system (kernel: netlink batch processing) CPU milliseconds of this thread.
func threadUserSys() -> (user: Double, sys: Double) {
    var u = rusage()
    getrusage(1, &u)  // RUSAGE_THREAD
    return (Double(u.ru_utime.tv_sec) * 1000 + Double(u.ru_utime.tv_usec) / 1000, Double(u.ru_stime.tv_sec) * 1000 + Double(u.ru_stime.tv_usec) / 1000)
}
func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
let clock = ContinuousClock()

print("nft-sync-bench: \(services) Services × \(endpointCount) endpoints")
if ProcessInfo.processInfo.environment["NFT_BENCH_PHASES"] != nil {
    // Where a full sync's time goes, in a scratch namespace: rendering, the batch, the kernel.
    sh(["ip", "netns", "add", scratch])
    defer { sh(["ip", "netns", "del", scratch]) }
    let config = RuleSyncConfig(clusterCIDRs: [CIDR("10.180.0.0/16")!])
    var ruleset: NFTablesRuleset?, plan: ForwardingPlan?
    let planning = clock.measure { plan = ForwardingPlan(snapshot: snapshot, config: config, family: .ipv4) }
    let render = clock.measure { ruleset = NFTablesRuleset(plan: plan!, renderer: NFTablesRenderer(config: config, family: .ipv4)) }
    var t: NFTablesTransaction?
    let build = clock.measure { t = NFTablesTransaction.full(ruleset!, existingChains: [], existingSets: []) }
    let connection = try NFTConnection(networkNamespace: "/run/netns/\(scratch)")
    let c0 = threadCPU()
    let apply = try clock.measure { _ = try connection.apply(t!.batch) }
    print(String(format: "phases (wall): plan %.0f ms, render %.0f ms, batch %.0f ms (%d commands), encode+kernel %.0f ms (%.0f ms CPU)",
                 ms(planning), ms(render), ms(build), t!.batch.commands.count, ms(apply), threadCPU() - c0))
}
let rssBefore = peakRSSMiB()
let backend = try NFTablesBackend(config: RuleSyncConfig(clusterCIDRs: [CIDR("10.180.0.0/16")!]), families: [.ipv4],
                                  networkNamespace: fullOnly ? nil : "/run/netns/\(node)", cleansConntrack: !fullOnly)
var report: SyncReport?
let cpuBefore = threadCPU(), usBefore = threadUserSys()
let full = try clock.measure { report = try backend.sync(snapshot, changes: nil) }
let fullCPU = threadCPU() - cpuBefore, usAfter = threadUserSys()
print(String(format: "full sync CPU: %.0f ms user (render, encode), %.0f ms system (kernel, %.0f %%)", usAfter.user - usBefore.user,
             usAfter.sys - usBefore.sys, 100 * (usAfter.sys - usBefore.sys) / (usAfter.user - usBefore.user + usAfter.sys - usBefore.sys)))
print(String(format: "full sync:        %8.1f ms wall, %8.1f ms CPU  %6.1f MiB sent  %7d rules  peak RSS %.0f MiB (%.0f before)",
             ms(full), fullCPU, Double(report!.bytesWritten) / 1_048_576, report!.rulesWritten, peakRSSMiB(), rssBefore))
if fullOnly { exit(0) }

/// Incremental syncs by kind: wall and CPU per sync, user and system CPU summed over the rounds
/// (the split is sampled at the scheduler tick, so only sums over many syncs mean something), bytes.
struct Samples {
    var wall: [Double] = [], cpu: [Double] = [], bytes: [Int] = []
    var user = 0.0, sys = 0.0

    static func median<T: Comparable>(_ values: [T]) -> T { values.sorted()[values.count / 2] }

    func line(_ kind: String) -> String {
        let w = wall.sorted()
        return String(format: "one-Service sync (%@): %8.2f ms wall median (%.2f min, %.2f max of %d), %.2f ms CPU median, kernel %.0f %%, %d bytes sent",
                      kind, Self.median(wall), w.first!, w.last!, wall.count, Self.median(cpu), 100 * sys / max(user + sys, 1e-9), Self.median(bytes))
    }
}
var samples: [String: Samples] = [:]
/// Runs one incremental sync; recorded under `kind` unless `record` is false (the warm-up round).
@MainActor func measuredSync(_ kind: String, record: Bool, _ to: ProxySnapshot, _ diff: SnapshotDiff) throws {
    let c0 = threadCPU(), us0 = threadUserSys()
    var r: SyncReport?
    let t = try clock.measure { r = try backend.sync(to, changes: diff) }
    let c1 = threadCPU(), us1 = threadUserSys()
    precondition(!r!.full)
    guard record else { return }
    samples[kind, default: Samples()].wall.append(ms(t))
    samples[kind]!.cpu.append(c1 - c0)
    samples[kind]!.bytes.append(r!.bytesWritten)
    samples[kind]!.user += us1.user - us0.user
    samples[kind]!.sys += us1.sys - us0.sys
}

let rounds = Int(ProcessInfo.processInfo.environment["NFT_BENCH_ROUNDS"] ?? "21")!
for round in 0..<rounds {
    let i = (round * 7919) % services
    var next = snapshot
    var list = next.endpoints[name(i)]!
    // Replace one endpoint by another address, so the endpoint set really changes.
    list.remove(at: round % list.count)
    list.append(Endpoint(address: IPAddress("10.180.1.\(round % 250 + 2)")!, port: 8080, isLocal: false, nodeName: "x"))
    next.endpoints[name(i)] = list.sorted()
    try measuredSync("an endpoint replaced", record: round > 0, next, SnapshotDiff(from: snapshot, to: next, candidates: [name(i)]))
    if round == rounds - 1 {
        // The user-space share of one such sync: render the Service port and diff it against the
        // applied model (the encode is a few KiB); the rest of the time is the kernel's commit.
        let config = RuleSyncConfig(clusterCIDRs: [CIDR("10.180.0.0/16")!])
        let renderer = NFTablesRenderer(config: config, family: .ipv4)
        let applied = backend.appliedRuleset(.ipv4)!
        let plan = ServiceForwardingPlan(service: next.servicePorts[name(i)]!, endpoints: eps[name(i)]!, node: nodeInfo, config: config, family: .ipv4)!
        var commands = 0
        let pure = clock.measure {
            for _ in 0..<100 {
                let t = NFTablesTransaction.incremental(from: applied, changes: [name(i): renderer.serviceRules(plan)], renderer: renderer)
                commands = t.batch.commands.count
            }
        }
        print(String(format: "one-Service render + diff (user space, no kernel): %.1f µs (%d commands)", ms(pure) * 10, commands))
    }
    snapshot = next
}

// A Service added, then its endpoint count changed (N to N+1: a new pick chain only the first
// time, map elements after).
for round in 0..<rounds {
    let extra = name(services + round)
    var next = snapshot
    next.servicePorts[extra] = ServicePort(name: extra, clusterIPs: [IPAddress("172.31.\(round / 250).\(round % 250 + 1)")!], port: 80,
                                           targetPort: .number(8080))
    next.endpoints[extra] = eps[name(0)]
    var grown = next
    grown.endpoints[extra]!.append(Endpoint(address: IPAddress("10.180.2.\(round % 250 + 2)")!, port: 8080, isLocal: false, nodeName: "y"))
    try measuredSync("Service added", record: round > 0, next, SnapshotDiff(from: snapshot, to: next, candidates: [extra]))
    try measuredSync("endpoint added", record: round > 0, grown, SnapshotDiff(from: next, to: grown, candidates: [extra]))
    snapshot = grown
}

// One Service deleted (and added back, unmeasured, so the next round deletes another).
for round in 0..<rounds {
    let i = (round * 6151 + 1) % services
    var next = snapshot
    next.servicePorts[name(i)] = nil
    next.endpoints[name(i)] = nil
    try measuredSync("Service deleted", record: round > 0, next, SnapshotDiff(from: snapshot, to: next, candidates: [name(i)]))
    _ = try backend.sync(snapshot, changes: SnapshotDiff(from: next, to: snapshot, candidates: [name(i)]))
}
for kind in ["an endpoint replaced", "Service added", "endpoint added", "Service deleted"] { print(samples[kind]!.line(kind)) }
print(String(format: "peak RSS at the end: %.0f MiB", peakRSSMiB()))
let chainCount = sh(["ip", "netns", "exec", node, "nft", "list", "chains", "ip"]).split(separator: "\n").count { $0.contains("chain ") }
print("chains in our table: \(chainCount)")

// Restore the two probed Services to all-reachable endpoints (the loop may have moved some).
var probe = snapshot
for i in [0, services - 1] { probe.endpoints[name(i)] = eps[name(i)] }
_ = try backend.sync(probe, changes: SnapshotDiff(from: snapshot, to: probe, candidates: [name(0), name(services - 1)]))

let connect = """
import socket, sys, time
host, n = sys.argv[1], int(sys.argv[2])
ts = []
for _ in range(n):
    s = socket.socket(); t = time.perf_counter(); s.connect((host, 80)); ts.append(time.perf_counter() - t); s.close()
ts.sort(); print("%.1f %.1f" % (ts[len(ts)//2] * 1e6, ts[int(len(ts)*0.9)] * 1e6))
"""
for i in [0, services - 1] {
    let out = sh(["ip", "netns", "exec", client, "python3", "-c", connect, "\(clusterIP(i))", "200"]).split(separator: " ")
    print("connect to Service #\(i + 1) (\(clusterIP(i))): median \(out[0]) µs, p90 \(out[1].trimmingCharacters(in: .whitespacesAndNewlines)) µs (200 connects)")
}
// Reading a million elements back takes `nft` tens of seconds: above 20,000 Services only on request.
if services <= 20_000 || ProcessInfo.processInfo.environment["NFT_BENCH_LIST"] != nil {
    let listed = sh(["ip", "netns", "exec", node, "nft", "list", "table", "ip", "swift-kube-proxy"])
    print("nft list table: \(listed.split(separator: "\n").count) lines")
    if ProcessInfo.processInfo.environment["NFT_BENCH_LIST"] != nil { print(listed) }
}
