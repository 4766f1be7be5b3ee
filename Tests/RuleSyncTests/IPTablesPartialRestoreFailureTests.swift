import DataplaneScenarios
import ProxyModel
import Testing
@testable import RuleSync

/// `kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total`: the backend counts failed
/// restores of incremental syncs only (a failed full sync is not one).
@Suite(.serialized, .enabled(if: Shell.canRunNamespaces, "needs root and ip netns"))
struct IPTablesPartialRestoreFailureTests {
    typealias F = Fixture

    @Test func failedPartialRestoresAreCounted() throws {
        let ns = try IPTablesBackendKernelTests.Namespace()
        let runner = BreakingRunner()
        let backend = IPTablesBackend(config: F.config, variant: .nft, families: [.ipv4], commandPrefix: ns.prefix,
                                      cleansConntrack: false, runner: runner)
        let name = F.name("ns1", "svc1")
        let before = F.snapshot([(F.service(name, "172.30.0.41"), [F.endpoint("10.180.0.1"), F.endpoint("10.180.0.2")])])
        let after = F.snapshot([(F.service(name, "172.30.0.41"), [F.endpoint("10.180.0.1")])])

        runner.breakNextRestore.withLock { $0 = true }
        #expect(throws: CommandError.self) { try backend.sync(before, changes: nil) }
        #expect(backend.partialRestoreFailures == 0)   // that one was full
        let first = try backend.sync(before, changes: nil)
        #expect(first.partialRestoreFailures == 0)
        #expect(first.rulesWrittenByTable["nat", default: 0] > 0 && first.rulesWrittenByTable["filter", default: 0] > 0)

        runner.breakNextRestore.withLock { $0 = true }
        #expect(throws: CommandError.self) { try backend.sync(after, changes: SnapshotDiff(from: before, to: after)) }
        #expect(backend.partialRestoreFailures == 1)
        let retry = try backend.sync(after, changes: SnapshotDiff(from: before, to: after))
        #expect(retry.full)
        #expect(retry.partialRestoreFailures == 1)
        // A partial sync writes only the changed Service's rules: none in filter here.
        let back = try backend.sync(before, changes: SnapshotDiff(from: after, to: before))
        #expect(!back.full)
        #expect(back.rulesWrittenByTable["nat", default: 0] > 0)
        #expect(back.rulesWrittenByTable["filter"] == nil)
    }
}
