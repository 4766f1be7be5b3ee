import NFTables
import ProxyModel

/// Where a frontend goes, without verdict maps. kube-proxy dispatches with verdict maps
/// (`service-ips : goto service-…`), but every `goto` element added to a verdict map makes the
/// kernel revalidate the whole table (`nft_table_validate`), 24 ms per Service at 100,000. Here
/// each of those maps is a small chain of the same name with one rule per target in use, reading
/// a plain set of the frontends that go there:
///
///     chain service-ips {
///         ip daddr . meta l4proto . th dport @service-ips-pick-10 goto pick-10
///         ip daddr . meta l4proto . th dport @service-ips-pick-local-3 goto pick-local-3
///     }
///
/// A frontend is one plain set element, which the kernel adds without validating anything; a rule
/// is added only with a new target (a new endpoint count or affinity timeout). A frontend is in at
/// most one set of a chain, so the rules' order does not matter.
public enum NFTablesDispatch: String, Sendable, CaseIterable, Comparable {
    /// ClusterIPs, ExternalIPs and LB IPs (`daddr . l4proto . dport`) to their pick.
    case serviceIPs = "service-ips"
    /// NodePorts (`l4proto . dport`) to their pick.
    case serviceNodePorts = "service-nodeports"
    /// Policy-Local frontends: pod and node sources to a pick over every endpoint.
    case clusterFallbackIPs = "cluster-fallback-ips"
    case clusterFallbackNodePorts = "cluster-fallback-nodeports"
    /// New DNATed connections of affinity frontends to their timeout's `affinity-remember-T`.
    case affinityFrontends = "affinity-frontends"
    case nodePortAffinityFrontends = "nodeport-affinity-frontends"

    public var chainName: String { rawValue }

    public var nodePort: Bool {
        switch self {
        case .serviceNodePorts, .clusterFallbackNodePorts, .nodePortAffinityFrontends: true
        case .serviceIPs, .clusterFallbackIPs, .affinityFrontends: false
        }
    }

    /// The chains that send packets to `pick`: every pick over all endpoints may also serve the
    /// policy-Local short-circuits; a remember chain is reached from the affinity base chains.
    public static func dispatches(to pick: NFTablesPick) -> [NFTablesDispatch] {
        if pick.sourcePrefixLength != nil { return [] }
        if pick.isAffinityRemember { return [pick.nodePort ? .nodePortAffinityFrontends : .affinityFrontends] }
        if pick.nodePort { return pick.local ? [.serviceNodePorts] : [.serviceNodePorts, .clusterFallbackNodePorts] }
        return pick.local ? [.serviceIPs] : [.serviceIPs, .clusterFallbackIPs]
    }

    /// The set of the frontends this chain sends to `pick`: `service-ips-pick-10`,
    /// `service-nodeports-pick-local-3`, `affinity-frontends-10800`.
    public func setName(_ pick: NFTablesPick) -> String {
        if pick.isAffinityRemember { return rawValue + "-" + String(pick.affinitySeconds!) }
        return rawValue + "-" + pick.baseName
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A shared pick chain and what sends packets to it: its set in each dispatch chain, and the rule
/// there that reads the set. Created with the first frontend that needs it, deleted at the first
/// full sync no frontend needs it. (A source-range prefix length has no chain: its set and rule.)
public struct NFTablesPickRules: Sendable, Hashable {
    public var chain: NFTablesChainRules?
    public var sets: [NFTSet]
    /// Rules appended to the dispatch chains (`service-ips`, …), one per set.
    public var dispatch: [NFTRule]
}

extension NFTablesRenderer {
    /// The pick chain of `pick` with its dispatch sets and rules.
    public func pickRules(_ pick: NFTablesPick) -> NFTablesPickRules {
        if let length = pick.sourcePrefixLength {
            return NFTablesPickRules(chain: nil, sets: sets(of: pick), dispatch: [sourceRangeRule(length)])
        }
        let dispatch = NFTablesDispatch.dispatches(to: pick).flatMap { d -> [NFTRule] in
            let set = d.setName(pick)
            if pick.isAffinityRemember { return affinityDispatchRules(d, set: set, to: pick) }
            let fields: [NFTField] = d.nodePort ? [.l4proto, .thDport] : [daddr, .l4proto, .thDport]
            return [rule(d.chainName, [.lookup(fields, set: set), .goto(pick.chainName)])]
        }
        return NFTablesPickRules(chain: pickChain(pick), sets: sets(of: pick), dispatch: dispatch)
    }

    /// The sets `pick` brings: its dispatch sets, or a source-range set.
    func sets(of pick: NFTablesPick) -> [NFTSet] {
        if let length = pick.sourcePrefixLength { return [sourceRangeSet(length)] }
        return NFTablesDispatch.dispatches(to: pick).map { dispatchSet($0, to: pick) }
    }

    /// The set of the frontends `dispatch` sends to `pick`.
    func dispatchSet(_ dispatch: NFTablesDispatch, to pick: NFTablesPick) -> NFTSet {
        .set(dispatch.setName(pick), in: table, key: dispatch.nodePort ? Self.portKey : serviceKey, comment: "frontends that go to \(pick.chainName)")
    }

    /// The (empty) dispatch chains: the picks in use add their rules.
    var dispatchChains: [NFTablesChainRules] {
        NFTablesDispatch.allCases.map { NFTablesChainRules(chain($0.chainName), []) }
    }
}
