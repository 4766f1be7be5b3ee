import DataplaneScenarios
import Foundation
import ProxyModel
import Synchronization
import Testing
@testable import RuleSync

/// A runner that breaks the next restore it is given (a line iptables rejects), to see failures.
final class BreakingRunner: CommandRunner {
    let real = ProcessRunner()
    let breakNextRestore = Mutex(false)

    func run(_ argv: [String], input: String?) throws -> String {
        var input = input
        if argv.contains(where: { $0.hasSuffix("-restore") }), breakNextRestore.withLock({ let b = $0; $0 = false; return b }),
           let text = input, let commit = text.range(of: "COMMIT\n", options: .backwards) {
            input = text.replacingCharacters(in: commit, with: "-A SKP-SERVICES -m no-such-match -j ACCEPT\nCOMMIT\n")
        }
        return try real.run(argv, input: input)
    }
}

/// The backend against a real kernel, in a bare namespace of its own (no topology needed).
@Suite(.serialized, .enabled(if: Shell.canRunNamespaces, "needs root and ip netns"))
struct IPTablesBackendKernelTests {
    final class Namespace {
        let name = "skp-ipt-\(UInt32.random(in: 0...UInt32.max))"
        init() throws { try Shell.run(["ip", "netns", "add", name]) }
        deinit { _ = try? Shell.run(["ip", "netns", "del", name]) }
        var prefix: [String] { ["ip", "netns", "exec", name] }
        func save(_ tool: String) throws -> String {
            try Shell.run(prefix + [tool]).split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        }
    }

    typealias F = Fixture

    static func dualStack() -> ProxySnapshot {
        let name = F.name("ns1", "dual")
        let svc = ServicePort(name: name, clusterIPs: [IPAddress("172.30.0.41")!, IPAddress("fd00:30::41")!], port: 80, nodePort: 30080)
        return F.snapshot([(svc, [F.endpoint("10.180.0.1"), Endpoint(address: IPAddress("fd00:180::1")!, port: 8080)])])
    }

    @Test(arguments: IPTablesVariant.allCases)
    func dualStackSyncAndCleanup(variant: IPTablesVariant) throws {
        let ns = try Namespace()
        let backend = IPTablesBackend(config: F.config, variant: variant == .nft ? .nft : .legacy, commandPrefix: ns.prefix)
        let report = try backend.sync(Self.dualStack(), changes: nil)
        #expect(report.full)
        let v4 = try ns.save(variant.saveCommand(.ipv4)), v6 = try ns.save(variant.saveCommand(.ipv6))
        let svc = IPTablesChains.clusterPolicy(F.name("ns1", "dual"))
        #expect(v4.contains("-A SKP-SERVICES -d 172.30.0.41/32"))
        #expect(v6.contains("-A SKP-SERVICES -d fd00:30::41/128"))
        #expect(v6.contains("--to-destination [fd00:180::1]:8080"))
        #expect(v4.contains(":\(svc) - ") && v6.contains(":\(svc) - "))
        #expect(v4.contains("-A PREROUTING -j SKP-SERVICES"))
        // A second full sync finds the hooks in place and adds none.
        _ = try backend.sync(Self.dualStack(), changes: nil)
        #expect(try ns.save(variant.saveCommand(.ipv4)).components(separatedBy: "-A PREROUTING -j SKP-SERVICES").count == 2)
        try backend.cleanup()
        #expect(!(try ns.save(variant.saveCommand(.ipv4))).contains("SKP-"))
        #expect(!(try ns.save(variant.saveCommand(.ipv6))).contains("SKP-"))
    }

    @Test(arguments: IPTablesVariant.allCases)
    func failedRestoreLeavesTheOldRulesAndTheNextSyncIsFull(variant: IPTablesVariant) throws {
        let ns = try Namespace()
        let runner = BreakingRunner()
        let backend = IPTablesBackend(config: F.config, variant: variant == .nft ? .nft : .legacy, families: [.ipv4],
                                      commandPrefix: ns.prefix, runner: runner)
        let name = F.name("ns1", "svc1")
        let before = F.snapshot([(F.service(name, "172.30.0.41"), [F.endpoint("10.180.0.1"), F.endpoint("10.180.0.2")])])
        _ = try backend.sync(before, changes: nil)
        let installed = try ns.save(variant.saveCommand(.ipv4))

        let after = F.snapshot([(F.service(name, "172.30.0.41"), [F.endpoint("10.180.0.1")])])
        runner.breakNextRestore.withLock { $0 = true }
        do {
            _ = try backend.sync(after, changes: SnapshotDiff(from: before, to: after))
            Issue.record("the broken restore should have failed")
        } catch let error as CommandError {
            #expect(error.failedLine != nil)
            #expect(error.failedLineText?.contains("no-such-match") == true, "\(error)")
        }
        #expect(try ns.save(variant.saveCommand(.ipv4)) == installed)

        let retry = try backend.sync(after, changes: SnapshotDiff(from: before, to: after))
        #expect(retry.full)
        let now = try ns.save(variant.saveCommand(.ipv4))
        #expect(!now.contains("10.180.0.2:8080"))
        #expect(now.contains("10.180.0.1:8080"))
    }

    @Test func staleUDPFlowsOfARemovedEndpointAreDeleted() throws {
        let ns = try Namespace()
        func insert(client: String, sport: Int, endpoint: String) throws {
            try Shell.run(ns.prefix + ["conntrack", "-I", "-p", "udp", "-s", client, "-d", "172.30.0.10", "--sport", "\(sport)",
                                       "--dport", "53", "-r", endpoint, "-q", client, "--reply-port-src", "53",
                                       "--reply-port-dst", "\(sport)", "-t", "100", "-u", "SEEN_REPLY"])
        }
        try insert(client: "10.0.0.5", sport: 5000, endpoint: "10.180.0.2")
        try insert(client: "10.0.0.6", sport: 5001, endpoint: "10.180.0.1")
        let backend = IPTablesBackend(config: F.config, variant: .nft, families: [.ipv4], commandPrefix: ns.prefix)
        let dns = F.service(F.name("kube-system", "dns", "dns", .udp), "172.30.0.10", port: 53)
        let before = F.snapshot([(dns, [F.endpoint("10.180.0.1", 53), F.endpoint("10.180.0.2", 53)])])
        let after = F.snapshot([(dns, [F.endpoint("10.180.0.1", 53)])])
        _ = try backend.sync(before, changes: nil)
        _ = try backend.sync(after, changes: SnapshotDiff(from: before, to: after))
        let flows = try Shell.run(ns.prefix + ["conntrack", "-L", "-p", "udp"])
        #expect(!flows.contains("src=10.180.0.2"))
        #expect(flows.contains("src=10.180.0.1"))
    }

    @Test func autoPicksTheVariantThatHoldsRules() throws {
        let ns = try Namespace()
        try Shell.run(ns.prefix + ["iptables-legacy", "-w", "-t", "nat", "-N", "SOMEONE-ELSE"])
        for i in 1...12 { try Shell.run(ns.prefix + ["iptables-legacy", "-w", "-t", "nat", "-A", "SOMEONE-ELSE", "-s", "192.0.2.\(i)", "-j", "RETURN"]) }
        #expect(IPTablesBackend(config: F.config, commandPrefix: ns.prefix).variant == .legacy)
        let fresh = try Namespace()
        #expect(IPTablesBackend(config: F.config, commandPrefix: fresh.prefix).variant == .nft)
    }
}

/// The scenario harness itself: a dataplane that programs nothing must fail the scenarios.
@Suite(.enabled(if: Shell.canRunNamespaces, "needs root, ip netns and python3"))
struct ScenarioHarnessTests {
    final class NothingDataplane: ScenarioDataplane {
        func apply(_ snapshot: ProxySnapshot) throws {}
        func cleanup() throws {}
        func installForeignRules() throws {}
        func foreignRulesIntact() throws -> Bool { true }
        func hasRulesOfOurs() throws -> Bool { false }
    }

    @Test func aDataplaneThatDoesNothingFails() throws {
        let w = ScenarioWorld.self
        let scenario = Scenario("ClusterIP reaches a backend", pods: 1, [
            .apply(w.snapshot([(w.service(), w.endpoints([1]))])),
            .probe(.podClient, Probe(.tcp, w.clusterIP, w.servicePort, timeoutSeconds: 1), .reaches([1])),
        ])
        let failures = try ScenarioRunner.run(scenario) { _ in NothingDataplane() }
        #expect(failures.count == 1)
    }
}
