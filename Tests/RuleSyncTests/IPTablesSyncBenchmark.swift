import Foundation
import ProxyModel
import RuleSync
import Testing

/// Not a test: the measurement `Benchmarks/iptables/sync-bench.sh` runs (it creates the namespace
/// and sets SKP_BENCH_NETNS). Prints one `BENCH` line per variant and size; asserts nothing about time.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["SKP_BENCH_NETNS"] != nil))
struct IPTablesSyncBenchmark {
    static func snapshot(services n: Int, endpoints: Int = 10) -> ProxySnapshot {
        var s = ProxySnapshot(node: NodeInfo(name: "node1", addresses: [IPAddress("192.168.0.2")!]))
        for i in 0..<n {
            let name = ServicePortName(service: NamespacedName(namespace: "bench", name: "svc\(i)"), port: "http", protocol: .tcp)
            s.servicePorts[name] = ServicePort(name: name, clusterIPs: [IPAddress(ipv4: 0xAC1E_0000 + UInt32(i + 1))], port: 80)
            s.endpoints[name] = (0..<endpoints).map { e in
                Endpoint(address: IPAddress(ipv4: 0x0AB4_0000 + UInt32(i * endpoints + e + 1)), port: 8080)
            }
        }
        return s
    }

    static func seconds(_ d: Duration) -> String {
        String(format: "%.3f", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }

    @Test func fullAndPartialSyncs() throws {
        let env = ProcessInfo.processInfo.environment
        let ns = env["SKP_BENCH_NETNS"]!
        let sizes = (env["SKP_BENCH_SIZES"] ?? "1000,5000,10000").split(separator: ",").compactMap { Int($0) }
        let variants = (env["SKP_BENCH_VARIANTS"] ?? "nft,legacy").split(separator: ",").compactMap { IPTablesVariantChoice(rawValue: String($0)) }
        let clock = ContinuousClock()
        for variant in variants {
            for n in sizes {
                let backend = IPTablesBackend(config: RuleSyncConfig(clusterCIDRs: [CIDR("10.0.0.0/8")!]), variant: variant,
                                              families: [.ipv4], commandPrefix: ["ip", "netns", "exec", ns])
                try backend.cleanup()
                let base = Self.snapshot(services: n)
                var full = SyncReport(full: true)
                let fullTime = try clock.measure { full = try backend.sync(base, changes: nil) }
                var resync = SyncReport(full: true)
                let resyncTime = try clock.measure { resync = try backend.sync(base, changes: nil) }

                // One Service loses an endpoint.
                var changed = base
                let victim = ServicePortName(service: NamespacedName(namespace: "bench", name: "svc\(n / 2)"), port: "http", protocol: .tcp)
                changed.endpoints[victim]!.removeLast()
                var partial = SyncReport(full: false)
                let partialTime = try clock.measure {
                    partial = try backend.sync(changed, changes: SnapshotDiff(from: base, to: changed))
                }
                // A new Service appears.
                var added = changed
                let newName = ServicePortName(service: NamespacedName(namespace: "bench", name: "new"), port: "http", protocol: .tcp)
                added.servicePorts[newName] = ServicePort(name: newName, clusterIPs: [IPAddress("172.31.255.1")!], port: 80)
                added.endpoints[newName] = (1...10).map { Endpoint(address: IPAddress("10.255.0.\($0)")!, port: 8080) }
                var add = SyncReport(full: false)
                let addTime = try clock.measure { add = try backend.sync(added, changes: SnapshotDiff(from: changed, to: added)) }

                // Rendering alone (no iptables-restore), for the split.
                let renderer = IPTablesRenderer(config: backend.config, family: .ipv4)
                let renderTime = clock.measure {
                    let plan = ForwardingPlan(snapshot: base, config: backend.config, family: .ipv4)
                    _ = IPTablesRestoreInput.full(IPTablesRuleset(plan: plan, renderer: renderer)).bytes
                }
                var usage = rusage()
                getrusage(RUSAGE_SELF.rawValue, &usage)
                print("BENCH variant=\(backend.variant.rawValue) services=\(n) endpoints=10 rules=\(full.totalRules.values.reduce(0, +))",
                      "full_s=\(Self.seconds(fullTime)) full_bytes=\(full.bytesWritten) full_rules=\(full.rulesWritten)",
                      "resync_s=\(Self.seconds(resyncTime)) render_s=\(Self.seconds(renderTime))",
                      "partial_s=\(Self.seconds(partialTime)) partial_bytes=\(partial.bytesWritten) partial_rules=\(partial.rulesWritten)",
                      "add_s=\(Self.seconds(addTime)) add_bytes=\(add.bytesWritten)",
                      "resync_full=\(resync.full) maxrss_mb=\(usage.ru_maxrss / 1024)")
                try backend.cleanup()
            }
        }
    }
}
