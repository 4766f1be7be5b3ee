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

/// A set or map of ours with the elements we put in it.
public struct NFTablesSetContents: Sendable, Hashable {
    public var set: NFTSet
    /// nil for a set the packet path fills (affinity): a sync creates it and never touches its elements.
    public var elements: [NFTSetElement]?

    public init(_ set: NFTSet, elements: [NFTSetElement]? = nil) {
        self.set = set
        self.elements = elements
    }

    public var name: String { self.set.name }
}

/// What one Service port contributes to a table: its own chains and sets, and its elements in the
/// shared maps. The unit an incremental sync rewrites.
public struct NFTablesServiceRules: Sendable, Hashable {
    /// `service-`, `local-`, `external-` and `firewall-` chains of this Service port.
    public var chains: [NFTablesChainRules] = []
    /// The endpoint maps of its `service-`/`local-` chains (named like the chain), and with
    /// ClientIP affinity an `affinity-` set per reachable endpoint.
    public var sets: [NFTablesSetContents] = []
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
    var elements: [String: NFTablesElementTable]

    public init(plan: ForwardingPlan, renderer: NFTablesRenderer) {
        table = renderer.table
        sharedChains = renderer.sharedChains(nodePorts: plan.nodePorts)
        sharedSets = renderer.sharedSets()
        var services: [ServicePortName: NFTablesServiceRules] = [:]
        services.reserveCapacity(plan.services.count)
        elements = Dictionary(uniqueKeysWithValues: sharedSets.map { ($0.name, NFTablesElementTable()) })
        for (name, servicePlan) in plan.services {
            let rules = renderer.serviceRules(servicePlan)
            services[name] = rules
            for (set, list) in rules.elements {
                for element in list {
                    elements[set, default: NFTablesElementTable()].entries[element.key, default: .init(element: element, owners: 0)].owners += 1
                }
            }
        }
        self.services = services
    }

    /// Elements now in `set`.
    public func elements(of set: String) -> [NFTSetElement] { elements[set]?.elements ?? [] }

    /// Rules in all our chains.
    public var ruleCount: Int {
        sharedChains.reduce(0) { $0 + $1.rules.count } + services.values.reduce(0) { $0 + $1.ruleCount }
    }

    /// Every chain name of ours in this ruleset.
    public var chainNames: Set<String> {
        var names = Set(sharedChains.map(\.name))
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
