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

/// What one Service port contributes to a table: its own chains and affinity sets, and its
/// elements in the shared maps. The unit an incremental sync rewrites.
public struct NFTablesServiceRules: Sendable, Hashable {
    /// `service-`, `local-` and `external-` chains: only a Service port with ClientIP affinity has any.
    public var chains: [NFTablesChainRules] = []
    /// `affinity-` sets, one per reachable endpoint, with ClientIP affinity.
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
        let names = plan.services.keys.sorted()
        for name in names {
            let rules: NFTablesServiceRules
            switch validator.serviceRules(plan.services[name]!) {
            case .success(let r): rules = r
            case .failure(let skip): skipped.append(skip); continue
            }
            services[name] = rules
            for pick in rules.picks where picks[pick] == nil { picks[pick] = renderer.pickChain(pick) }
        }
        // Each table sized once: growing a table of a million keys rehashes all of them each time.
        var counts: [String: Int] = [:]
        for rules in services.values { for (set, list) in rules.elements { counts[set, default: 0] += list.count } }
        for (set, count) in counts { elements[set] = NFTablesElementTable(entries: .init(minimumCapacity: count)) }
        for name in names {
            guard let rules = services[name] else { continue }
            for (set, list) in rules.elements {
                for i in list.indices {  // by index: one copy of the element, into the table, not two
                    elements[set]!.entries[list[i].key, default: .init(element: list[i], owners: 0)].owners += 1
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
        sharedChains.reduce(0) { $0 + $1.rules.count } + picks.count + services.values.reduce(0) { $0 + $1.ruleCount }
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
        return names
    }
}
