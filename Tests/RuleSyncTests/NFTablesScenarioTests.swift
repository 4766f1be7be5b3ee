import DataplaneScenarios
import NFTables
import ProxyModel
import Testing
@testable import RuleSync

/// Runs an `NFTablesBackend` with its netlink socket inside a scenario's node namespace. The
/// first apply is a full sync, later ones incremental from the snapshot diff, as the daemon does.
final class NFTablesScenarioDataplane: ScenarioDataplane {
    let backend: NFTablesBackend
    let prefix: [String]
    var last: ProxySnapshot?

    init(topology: Topology, config: ScenarioConfig = .standard) throws {
        prefix = topology.nodeCommandPrefix
        var rules = RuleSyncConfig(scenario: config)
        // The daemon's default in nftables mode, as kube-proxy's: unset nodePortAddresses is `primary`.
        rules.nodePortAddressesPrimary = config.nodePortAddressesPrimary ?? config.nodePortAddresses.isEmpty
        backend = try NFTablesBackend(config: rules, families: [.ipv4],
                                      networkNamespace: "/run/netns/\(topology.node)")
    }

    func apply(_ snapshot: ProxySnapshot) throws {
        let report = try backend.sync(snapshot, changes: last.map { SnapshotDiff(from: $0, to: snapshot) })
        // A node change (its primary address, say) is a full sync too.
        #expect(report.full == (last == nil || last?.node != snapshot.node))
        #expect(report.skipped.isEmpty, "skipped: \(report.skipped)")
        last = snapshot
        // `nft` itself can read back what we sent.
        let listing = try nft("list ruleset")
        #expect(listing.contains("table ip \(NFTablesNames.tableName)"))
    }

    func cleanup() throws { try backend.cleanup() }

    @discardableResult
    func nft(_ args: String) throws -> String {
        try Shell.run(prefix + ["nft"] + args.split(separator: " ").map(String.init))
    }

    func installForeignRules() throws {
        try Shell.run(prefix + ["nft", "-f", "-"], input: """
        table ip foreign {
            chain pre { type nat hook prerouting priority -100; policy accept; ip daddr 192.0.2.1 return; }
            chain in { type filter hook input priority 0; policy accept; ip saddr 192.0.2.1 accept; }
        }
        """)
    }

    func foreignRulesIntact() throws -> Bool {
        let text = try nft("list table ip foreign")
        return text.contains("ip daddr 192.0.2.1 return") && text.contains("ip saddr 192.0.2.1 accept")
    }

    func hasRulesOfOurs() throws -> Bool { try nft("list tables").contains(NFTablesNames.tableName) }
}

@Suite(.serialized, .enabled(if: Shell.canRunNamespaces, "needs root, ip netns and python3"))
struct NFTablesScenarioTests {
    @Test(arguments: Scenario.conformance(for: .nftables))
    func conformance(_ scenario: Scenario) throws {
        try runConformance(scenario, on: .nftables, label: "nftables") { try NFTablesScenarioDataplane(topology: $0, config: scenario.config) }
    }

    @Test(arguments: Scenario.standard)
    func scenario(_ scenario: Scenario) throws {
        let failures = try ScenarioRunner.run(scenario) { try NFTablesScenarioDataplane(topology: $0) }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    @Test(arguments: Scenario.namesAtLimits)
    func namesAtLimits(_ scenario: Scenario) throws {
        let failures = try ScenarioRunner.run(scenario) { try NFTablesScenarioDataplane(topology: $0) }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    @Test(arguments: Scenario.affinity)
    func affinity(_ scenario: Scenario) throws {
        let failures = try ScenarioRunner.run(scenario) { try NFTablesScenarioDataplane(topology: $0) }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}
