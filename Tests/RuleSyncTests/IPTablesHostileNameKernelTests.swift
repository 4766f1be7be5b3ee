import DataplaneScenarios
import ProxyModel
import Testing
@testable import RuleSync

/// What `iptables-restore` made of a hostile name, read back with `iptables-save`: exactly the
/// rules we meant, the name only inside comments, and its rules deleted by their text when it goes.
@Suite(.serialized, .enabled(if: Shell.canRunNamespaces, "needs root and ip netns"))
struct IPTablesHostileNameKernelTests {
    typealias F = Fixture

    @Test(arguments: IPTablesVariant.allCases)
    func aHostileNameYieldsExactlyTheRulesWeMeant(variant: IPTablesVariant) throws {
        let ns = try IPTablesBackendKernelTests.Namespace()
        let backend = IPTablesBackend(config: F.config, variant: variant == .nft ? .nft : .legacy, families: [.ipv4],
                                      commandPrefix: ns.prefix)
        let hostile = NameWorld.hostileName, ordinary = F.name("ns1", "web")
        let both = F.snapshot([
            (F.service(hostile, "172.30.0.41", nodePort: 30080, externalPolicy: .local), [F.endpoint("10.180.0.1", local: true)]),
            (F.service(ordinary, "172.30.0.42"), [F.endpoint("10.180.0.2")]),
        ])
        let report = try backend.sync(both, changes: nil)
        #expect(report.skipped.isEmpty)
        func rules() throws -> [String] {
            try (ns.save(variant.saveCommand(.ipv4)).split(separator: "\n").map(String.init)).filter { $0.hasPrefix("-A ") }
        }
        let installed = try rules()
        // A fresh namespace: every rule there is one we wrote (hooks included), and no other.
        #expect(installed.count == report.rulesWritten)
        #expect(!installed.contains { $0.hasPrefix("-A KUBE") })
        #expect(installed.allSatisfy { $0.hasPrefix("-A SKP-") || IPTablesHook.all.map { "-A \($0.chain) \($0.rule)" }.contains($0) })
        #expect(!installed.contains { $0.hasSuffix("-j ACCEPT") && !$0.contains("--mark") && !$0.contains("--ctstate") })
        // iptables-save shows the comment as it was meant (escaped as we escaped it).
        let saved = installed.first { $0.contains("node port") }
        let words = try #require(saved.flatMap(IPTablesRuleValidation.arguments))
        let comment = words[try #require(words.firstIndex(of: "--comment")) + 1]
        #expect(comment == "\(hostile) node port".replacingOccurrences(of: "\n", with: " "))

        // Removed: its dispatch rules are deleted (`-D` by their text), its chains too.
        let after = F.snapshot([(F.service(ordinary, "172.30.0.42"), [F.endpoint("10.180.0.2")])])
        _ = try backend.sync(after, changes: SnapshotDiff(from: both, to: after))
        let left = try rules()
        #expect(!left.contains { $0.contains("ACCEPT\\\"") || $0.contains("ünïcødé") })
        #expect(left.contains { $0.contains("ns1/web:p80 cluster IP") })
    }
}
