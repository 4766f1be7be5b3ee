import DataplaneScenarios
import ProxyModel
import Testing
@testable import RuleSync

/// Runs an `IPTablesBackend` inside a scenario's node namespace (`ip netns exec NODE …`). The
/// first apply is a full sync, later ones incremental from the snapshot diff, as the daemon does.
final class IPTablesScenarioDataplane: ScenarioDataplane {
    let backend: IPTablesBackend
    let variant: IPTablesVariant
    let prefix: [String]
    var last: ProxySnapshot?

    /// As the daemon runs iptables mode by default: localhost NodePorts on, `route_localnet` set in
    /// the node's namespace.
    init(topology: Topology, variant: IPTablesVariant, config: ScenarioConfig = .standard) throws {
        self.variant = variant
        prefix = topology.nodeCommandPrefix
        try Shell.run(prefix + ["sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1"])
        backend = IPTablesBackend(config: RuleSyncConfig(scenario: config),
                                  variant: variant == .nft ? .nft : .legacy, families: [.ipv4], commandPrefix: prefix)
    }

    func apply(_ snapshot: ProxySnapshot) throws {
        let report = try backend.sync(snapshot, changes: last.map { SnapshotDiff(from: $0, to: snapshot) })
        #expect(report.full == (last == nil))
        #expect(report.skipped.isEmpty, "skipped: \(report.skipped)")
        last = snapshot
    }

    func cleanup() throws { try backend.cleanup() }

    func iptables(_ args: String) throws {
        try Shell.run(prefix + [variant.iptablesCommand(.ipv4), "-w"] + args.split(separator: " ").map(String.init))
    }

    func save() throws -> String { try Shell.run(prefix + [variant.saveCommand(.ipv4)]) }

    static let foreign = [
        "-A PREROUTING -j FOREIGN-NAT", "-A FOREIGN-NAT -d 192.0.2.1/32 -j RETURN",
        "-A INPUT -j FOREIGN-FILTER", "-A FOREIGN-FILTER -s 192.0.2.1/32 -j ACCEPT",
    ]

    func installForeignRules() throws {
        try iptables("-t nat -N FOREIGN-NAT")
        try iptables("-t nat -A FOREIGN-NAT -d 192.0.2.1 -j RETURN")
        try iptables("-t nat -A PREROUTING -j FOREIGN-NAT")
        try iptables("-t filter -N FOREIGN-FILTER")
        try iptables("-t filter -A FOREIGN-FILTER -s 192.0.2.1 -j ACCEPT")
        try iptables("-t filter -A INPUT -j FOREIGN-FILTER")
    }

    func foreignRulesIntact() throws -> Bool {
        let lines = Set(try save().split(separator: "\n").map(String.init))
        return Self.foreign.allSatisfy(lines.contains)
    }

    func hasRulesOfOurs() throws -> Bool { try save().contains(IPTablesChains.prefix) }
}

extension RuleSyncConfig {
    /// The backend settings a scenario asks for.
    init(scenario: ScenarioConfig) {
        self.init(clusterCIDRs: scenario.clusterCIDRs, masqueradeAll: scenario.masqueradeAll, nodePortAddresses: scenario.nodePortAddresses,
                  localhostNodePorts: true)
        serviceCIDRs = scenario.serviceCIDRs
        nodePortAddressesPrimary = scenario.nodePortAddressesPrimary ?? false
    }
}

/// Runs a conformance scenario on `backend`; a known gap is recorded as a known issue, so the test
/// fails once the gap is closed and the mark must go.
func runConformance(_ scenario: Scenario, on backend: ScenarioBackend, label: String,
                    dataplane: @escaping (Topology) throws -> any ScenarioDataplane) throws {
    let run = {
        let failures = try ScenarioRunner.run(scenario, dataplane: dataplane)
        #expect(failures.isEmpty, "\(label): \(failures.joined(separator: "\n"))")
    }
    if let gap = scenario.knownGaps[backend] {
        withKnownIssue(Comment(rawValue: "\(label): \(gap)")) { try run() }
    } else {
        try run()
    }
}

@Suite(.serialized, .enabled(if: Shell.canRunNamespaces, "needs root, ip netns and python3"))
struct IPTablesScenarioTests {
    @Test(arguments: Scenario.conformance(for: .iptables), IPTablesVariant.allCases)
    func conformance(_ scenario: Scenario, variant: IPTablesVariant) throws {
        try runConformance(scenario, on: .iptables, label: "\(variant)") {
            try IPTablesScenarioDataplane(topology: $0, variant: variant, config: scenario.config)
        }
    }

    @Test(arguments: Scenario.standard, IPTablesVariant.allCases)
    func scenario(_ scenario: Scenario, variant: IPTablesVariant) throws {
        let failures = try ScenarioRunner.run(scenario) { try IPTablesScenarioDataplane(topology: $0, variant: variant) }
        #expect(failures.isEmpty, "\(variant): \(failures.joined(separator: "\n"))")
    }

    @Test(arguments: Scenario.namesAtLimits, IPTablesVariant.allCases)
    func namesAtLimits(_ scenario: Scenario, variant: IPTablesVariant) throws {
        let failures = try ScenarioRunner.run(scenario) { try IPTablesScenarioDataplane(topology: $0, variant: variant) }
        #expect(failures.isEmpty, "\(variant): \(failures.joined(separator: "\n"))")
    }

    @Test(arguments: Scenario.affinity, IPTablesVariant.allCases)
    func affinity(_ scenario: Scenario, variant: IPTablesVariant) throws {
        let failures = try ScenarioRunner.run(scenario) { try IPTablesScenarioDataplane(topology: $0, variant: variant) }
        #expect(failures.isEmpty, "\(variant): \(failures.joined(separator: "\n"))")
    }
}
