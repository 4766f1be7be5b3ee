import NFTables
import ProxyModel
import RuleSync

/// A snapshot through both rule backends, for both families, as a full sync renders it: the
/// nftables model, its transaction encoded to netlink bytes, and the iptables-restore text (full,
/// and partial from a ruleset without Services). Beyond "never traps", two checks: the renderers
/// leave out a Service port a backend would refuse, so what is left must pass the same validation
/// (the netlink encoder's command check; iptables-restore's argument rules, line by line).
enum Render {
    static func all(_ snapshot: ProxySnapshot, config: RuleSyncConfig) {
        for family in [IPAddress.Family.ipv4, .ipv6] {
            let plan = ForwardingPlan(snapshot: snapshot, config: config, family: family)

            let nft = NFTablesRuleset(plan: plan, renderer: NFTablesRenderer(config: config, family: family))
            let transaction = NFTablesTransaction.full(nft, existingChains: [], existingSets: [])
            do {
                _ = try NFTablesFuzzEntryPoints.encode(transaction.batch)
            } catch {
                preconditionFailure("the nftables transaction of a validated ruleset is refused: \(error)")
            }

            let ipt = IPTablesRuleset(plan: plan, renderer: IPTablesRenderer(config: config, family: family))
            let empty = IPTablesRuleset(global: ipt.global, services: [:])
            check(IPTablesRestoreInput.full(ipt).text)
            check(IPTablesRestoreInput.partial(from: empty, to: ipt, changed: Set(ipt.services.keys)).text)
        }
    }

    /// Every line is a table, a chain declaration, a rule or COMMIT, and no rule or chain name is
    /// one iptables-restore would refuse.
    static func check(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("*") || line == "COMMIT" { continue }
            if line.hasPrefix(":") {
                let name = String(line.dropFirst().prefix { $0 != " " })
                if let problem = IPTablesRuleValidation.problem(inChainName: name) {
                    preconditionFailure("iptables-restore would refuse chain \(name.debugDescription): \(problem)")
                }
                continue
            }
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, ["-A", "-I", "-D", "-X", "-F"].contains(parts[0]) else {
                if parts.count == 2, ["-X", "-F"].contains(parts[0]) { continue }
                preconditionFailure("not an iptables-restore line: \(String(line).debugDescription)")
            }
            if let problem = IPTablesRuleValidation.problem(inChainName: String(parts[1])) {
                preconditionFailure("iptables-restore would refuse chain \(parts[1].debugDescription): \(problem)")
            }
            if parts[0] != "-X", parts[0] != "-F", let problem = IPTablesRuleValidation.problem(inRule: String(parts[2])) {
                preconditionFailure("iptables-restore would refuse \(String(line).debugDescription): \(problem)")
            }
        }
    }
}
