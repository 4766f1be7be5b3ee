import NFTables
import ProxyModel

/// A chain of ours with its rules, in order.
public struct NFTablesChainRules: Sendable, Hashable {
    public var chain: NFTChain
    public var rules: [NFTRule]

    public init(_ chain: NFTChain, _ rules: [NFTRule]) {
        self.chain = chain
        self.rules = rules
    }

    public var name: String { chain.name }
}

/// What one Service port contributes to a table: chains and sets of its own (none in this layout), and its
/// elements in the shared maps. The unit an incremental sync rewrites.
public struct NFTablesServiceRules: Sendable, Hashable {
    /// Chains of its own: none since ClientIP affinity is flat too (`NFTablesAffinity.swift`); the
    /// transactions still handle them, as they did for its chains before.
    public var chains: [NFTablesChainRules] = []
    /// Sets of its own: none (affinity maps are one per timeout, `NFTablesRuleset.affinityMaps`).
    public var sets: [NFTSet] = []
    /// The shared endpoint-choice chains its frontends go to.
    public var picks: [NFTablesPick] = []
    /// Elements of the shared sets and maps (`service-ips`, `cluster-ips`, …), by set name.
    public var elements: [String: [NFTSetElement]] = [:]

    public init() {}

    public var ruleCount: Int { chains.reduce(0) { $0 + $1.rules.count } }

    mutating func add(_ element: NFTSetElement, to set: String) { elements[set, default: []].append(element) }
}

/// The elements of one shared set or map with how many Service ports contribute each key (a
/// ClusterIP is in `cluster-ips` once for all ports of its Service).
struct NFTablesElementTable: Sendable, Hashable {
    struct Entry: Sendable, Hashable {
        var element: NFTSetElement
        var owners: Int
    }

    var entries: [NFTValue: Entry] = [:]

    var elements: [NFTSetElement] { entries.values.map(\.element) }
}

/// Everything of ours in one family's table, as last rendered or applied.
public struct NFTablesRuleset: Sendable, Hashable {
    public var table: NFTTable
    /// Base chains and the shared regular chains, with their fixed rules.
    public var sharedChains: [NFTablesChainRules]
    /// The shared sets and maps (their elements come from the Services).
    public var sharedSets: [NFTSet]
    public var services: [ServicePortName: NFTablesServiceRules]
    /// The shared endpoint-choice chains (`pick-N`, …) in the table. An incremental sync adds the
    /// new ones it needs; those no Service uses any more go at the next full sync.
    public var picks: [NFTablesPick: NFTablesChainRules] = [:]
    var elements: [String: NFTablesElementTable]
    /// Service ports of the plan left out because the kernel would refuse their rules.
    public var skipped: [SkippedServicePort] = []

    public init(plan: ForwardingPlan, renderer: NFTablesRenderer) {
        table = renderer.table
        sharedChains = renderer.sharedChains(nodePorts: plan.nodePorts)
        var services: [ServicePortName: NFTablesServiceRules] = [:]
        services.reserveCapacity(plan.services.count)
        elements = [:]
        let validator = NFTablesServiceValidator(renderer)
        // In name order, so the same plan always gets the same key blocks.
        for name in plan.services.keys.sorted() {
            let rules: NFTablesServiceRules
            switch validator.serviceRules(plan.services[name]!) {
            case .success(let r): rules = r
            case .failure(let skip): skipped.append(skip); continue
            }
            services[name] = rules
            for pick in rules.picks where picks[pick] == nil { picks[pick] = renderer.pickChain(pick) }
            for (set, list) in rules.elements {
                for element in list {
                    elements[set, default: NFTablesElementTable()].entries[element.key, default: .init(element: element, owners: 0)].owners += 1
                }
            }
        }
        self.services = services
        sharedSets = renderer.sharedSets()
        for set in sharedSets where elements[set.name] == nil { elements[set.name] = NFTablesElementTable() }
    }

    /// Elements now in `set`.
    public func elements(of set: String) -> [NFTSetElement] { elements[set]?.elements ?? [] }

    /// Rules in all our chains.
    public var ruleCount: Int {
        sharedChains.reduce(0) { $0 + $1.rules.count } + picks.values.reduce(0) { $0 + $1.rules.count } + services.values.reduce(0) { $0 + $1.ruleCount }
    }

    /// Every chain name of ours in this ruleset.
    public var chainNames: Set<String> {
        var names = Set(sharedChains.map(\.name))
        for pick in picks.keys { names.insert(pick.chainName) }
        for rules in services.values { for chain in rules.chains { names.insert(chain.name) } }
        return names
    }

    /// Every set and map name of ours in this ruleset.
    public var setNames: Set<String> {
        var names = Set(sharedSets.map(\.name))
        for rules in services.values { for set in rules.sets { names.insert(set.name) } }
        for map in affinityMaps { names.insert(map.name) }
        return names
    }

    /// The timed ClientIP-affinity maps the picks in use read: never flushed by a sync.
    public var affinityMaps: [NFTSet] { NFTablesRenderer.affinityMaps(picks.keys, in: table) }
}
