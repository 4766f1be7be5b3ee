import DataplaneScenarios
import ProxyModel
import Synchronization
import Testing
@testable import RuleSync

/// Records commands; restores and listings succeed with empty output.
final class RecordingRunner: CommandRunner {
    let commands = Mutex<[[String]]>([])
    func run(_ argv: [String], input: String?) throws -> String {
        commands.withLock { $0.append(argv) }
        return ""
    }
    var conntrackCommands: [[String]] { commands.withLock { $0.filter { $0.first == "conntrack" } } }
}

@Suite struct ConntrackCleanupTests {
    typealias F = Fixture
    let dns = F.name("kube-system", "dns", "dns", .udp)

    @Test func aRemovedUDPEndpointLosesItsFlows() throws {
        let runner = RecordingRunner()
        let backend = IPTablesBackend(config: F.config, variant: .nft, families: [.ipv4], runner: runner)
        let svc = F.service(dns, "172.30.0.10", port: 53, nodePort: 30053)
        let before = F.snapshot([(svc, [F.endpoint("10.180.0.1", 53), F.endpoint("10.180.0.2", 53)])])
        let after = F.snapshot([(svc, [F.endpoint("10.180.0.1", 53)])])
        _ = try backend.sync(before, changes: nil)
        #expect(runner.conntrackCommands.isEmpty)
        _ = try backend.sync(after, changes: SnapshotDiff(from: before, to: after))
        #expect(runner.conntrackCommands == [
            ["conntrack", "-D", "-f", "ipv4", "-p", "udp", "--orig-dst", "172.30.0.10", "--reply-src", "10.180.0.2"],
            ["conntrack", "-D", "-f", "ipv4", "-p", "udp", "--dport", "30053", "--reply-src", "10.180.0.2"],
        ])
    }

    @Test func endpointsComingUpClearCachedRejectsAndTCPNeedsNothing() throws {
        let runner = RecordingRunner()
        let backend = IPTablesBackend(config: F.config, variant: .nft, families: [.ipv4], runner: runner)
        let web = F.service(F.name("ns1", "web"), "172.30.0.41")
        let udp = F.service(dns, "172.30.0.10", port: 53)
        let before = F.snapshot([(web, [F.endpoint("10.180.0.1")]), (udp, [])])
        let after = F.snapshot([(web, []), (udp, [F.endpoint("10.180.0.3", 53)])])
        _ = try backend.sync(before, changes: nil)
        _ = try backend.sync(after, changes: SnapshotDiff(from: before, to: after))
        #expect(runner.conntrackCommands == [
            ["conntrack", "-D", "-f", "ipv4", "-p", "udp", "--orig-dst", "172.30.0.10", "--dport", "53"],
        ])
    }
}
