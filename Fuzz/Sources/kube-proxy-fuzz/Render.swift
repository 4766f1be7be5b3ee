import NFTables
import ProxyModel
import RuleSync

/// A snapshot through both rule backends, for both families: the nftables model, its transaction
/// encoded to netlink bytes (validation included), and the iptables-restore text.
enum Render {
    static func all(_ snapshot: ProxySnapshot, config: RuleSyncConfig) {
        for family in [IPAddress.Family.ipv4, .ipv6] {
            let plan = ForwardingPlan(snapshot: snapshot, config: config, family: family)

            let nft = NFTablesRuleset(plan: plan, renderer: NFTablesRenderer(config: config, family: family))
            let transaction = NFTablesTransaction.full(nft, existingChains: [], existingSets: [])
            do { _ = try NFTablesFuzzEntryPoints.encode(transaction.batch) } catch { _ = "\(error)" }

            let ipt = IPTablesRuleset(plan: plan, renderer: IPTablesRenderer(config: config, family: family))
            let full = IPTablesRestoreInput.full(ipt)
            let empty = IPTablesRuleset(global: ipt.global, services: [:])
            let partial = IPTablesRestoreInput.partial(from: empty, to: ipt, changed: Set(ipt.services.keys))
            _ = (full.text.utf8.count, partial.text.utf8.count)
        }
    }
}
