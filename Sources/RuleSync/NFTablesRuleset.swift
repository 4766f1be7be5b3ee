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

    /// `count` elements more for `set`, made by `fill`: the set's name is hashed twice, not once per
    /// element, and the array grows exactly (the applied model keeps these arrays, and growth by
    /// doubling left a third of them empty: 100 MiB at 100,000 Services).
    mutating func add(_ count: Int, to set: String, _ fill: (inout [NFTSetElement]) -> Void) {
        var list = elements.removeValue(forKey: set) ?? []  // taken out, so appending copies nothing
        list.reserveCapacity(list.count + count)
        fill(&list)
        elements[set] = list
    }
}

/// The elements of one shared set or map with how many Service ports contribute each key (a
/// ClusterIP is in `cluster-ips` once for all ports of its Service).
///
/// Kept as one array of elements plus a key index, not a dictionary of entries: the full sync's
/// batch shares the array without copying it (a million elements at 100,000 Services), and an
/// index bucket is 16 bytes where an entry's was ~100.
struct NFTablesElementTable: Sendable, Hashable {
    struct Entry: Sendable, Hashable {
        var element: NFTSetElement
        var owners: Int
    }

    /// In insertion order, except that a removal moves the last element into the gap.
    private(set) var elements: [NFTSetElement] = []
    private var owners: [Int] = []
    private var positions: [NFTValue: Int] = [:]

    init(capacity: Int = 0) {
        elements.reserveCapacity(capacity)
        owners.reserveCapacity(capacity)
        positions.reserveCapacity(capacity)
    }

    var count: Int { elements.count }

    /// Counts one more owner of each element's key; the first owner's element is the one kept.
    mutating func addOwners(of list: [NFTSetElement]) {
        for j in list.indices {  // by index: one copy of the element, into the table
            if let i = positions[list[j].key] {
                owners[i] += 1
            } else {
                positions[list[j].key] = elements.count
                elements.append(list[j])
                owners.append(1)
            }
        }
    }

    subscript(key: NFTValue) -> Entry? {
        get { positions[key].map { Entry(element: elements[$0], owners: owners[$0]) } }
        set {
            if let entry = newValue {
                if let i = positions[key] {
                    elements[i] = entry.element
                    owners[i] = entry.owners
                } else {
                    positions[key] = elements.count
                    elements.append(entry.element)
                    owners.append(entry.owners)
                }
            } else if let i = positions.removeValue(forKey: key) {
                let last = elements.count - 1
                if i != last {
                    elements.swapAt(i, last)
                    owners.swapAt(i, last)
                    positions[elements[i].key] = i
                }
                elements.removeLast()
                owners.removeLast()
            }
        }
    }

    /// The same keys with the same elements and owner counts, in any order.
    static func == (a: Self, b: Self) -> Bool {
        guard a.count == b.count else { return false }
        return a.positions.allSatisfy { key, i in b[key] == Entry(element: a.elements[i], owners: a.owners[i]) }
    }

    func hash(into hasher: inout Hasher) { hasher.combine(count) }
}

/// Everything of ours in one family's table, as last rendered or applied.
public struct NFTablesRuleset: Sendable, Hashable {
    public var table: NFTTable
    /// Base chains and the shared regular chains, with their fixed rules.
    public var sharedChains: [NFTablesChainRules]
    /// The shared sets and maps (their elements come from the Services).
    public var sharedSets: [NFTSet]
    public var services: [ServicePortName: NFTablesServiceRules]
    /// The shared endpoint-choice chains (`pick-N`, …) in the table, with their dispatch sets and
    /// rules. An incremental sync adds the new ones it needs; those no Service uses any more go at
    /// the next full sync.
    public var picks: [NFTablesPick: NFTablesPickRules] = [:]
    var elements: [String: NFTablesElementTable]
    /// Service ports of the plan left out because the kernel would refuse their rules.
    public var skipped: [SkippedServicePort] = []

    public init(plan: ForwardingPlan, renderer: NFTablesRenderer) {
        self.init(nodePorts: plan.nodePorts, names: plan.services.keys.sorted(), renderer: renderer) { plan.services[$0] }
    }

    /// The ruleset of the Service ports `names` (in this order), each planned by `plan` when it
    /// is rendered: the backend's full sync plans them one at a time, so every port's plan is
    /// never held at once (hundreds of MiB at 100,000 Services, at the sync's peak).
    init(nodePorts: NodePortScope, names: [ServicePortName], renderer: NFTablesRenderer,
         plan: (ServicePortName) -> ServiceForwardingPlan?) {
        table = renderer.table
        sharedChains = renderer.sharedChains(nodePorts: nodePorts)
        var services: [ServicePortName: NFTablesServiceRules] = [:]
        services.reserveCapacity(names.count)
        elements = [:]
        var validator = NFTablesServiceValidator(renderer)
        // In name order, so the same plan always gets the same key blocks.
        for name in names {
            guard let servicePlan = plan(name) else { continue }
            let rules: NFTablesServiceRules
            switch validator.serviceRules(servicePlan) {
            case .success(let r): rules = r
            case .failure(let skip): skipped.append(skip); continue
            }
            services[name] = rules
            for pick in rules.picks where picks[pick] == nil { picks[pick] = renderer.pickRules(pick) }
        }
        // Each table sized once: growing a table of a million keys rehashes all of them each time.
        var counts: [String: Int] = [:]
        for rules in services.values { for (set, list) in rules.elements { counts[set, default: 0] += list.count } }
        for (set, count) in counts { elements[set] = NFTablesElementTable(capacity: count) }
        for name in names {
            guard let rules = services[name] else { continue }
            for (set, list) in rules.elements { elements[set]!.addOwners(of: list) }  // the set's name hashed once per list
        }
        self.services = services
        sharedSets = renderer.sharedSets()
        for set in sharedSets + pickSets where elements[set.name] == nil { elements[set.name] = NFTablesElementTable() }
    }

    /// The sets of the picks in use (dispatch and source-range sets), in pick order.
    public var pickSets: [NFTSet] { picks.keys.sorted().flatMap { picks[$0]!.sets } }

    /// Every chain with all its rules, in the order a full sync writes them: the shared chains
    /// (the dispatch chains with one rule per pick in use, in pick order), then the pick chains,
    /// then any of the Service ports.
    public var chains: [NFTablesChainRules] {
        let sorted = picks.keys.sorted()
        var dispatch: [String: [NFTRule]] = [:]
        for pick in sorted { for rule in picks[pick]!.dispatch { dispatch[rule.chain, default: []].append(rule) } }
        let shared = sharedChains.map { c in
            var c = c
            c.rules += dispatch[c.name] ?? []
            return c
        }
        return shared + sorted.compactMap { picks[$0]!.chain } + services.keys.sorted().flatMap { services[$0]!.chains }
    }

    /// Elements now in `set`.
    public func elements(of set: String) -> [NFTSetElement] { elements[set]?.elements ?? [] }

    /// Rules in all our chains.
    public var ruleCount: Int {
        sharedChains.reduce(0) { $0 + $1.rules.count } + picks.values.reduce(0) { $0 + ($1.chain?.rules.count ?? 0) + $1.dispatch.count }
            + services.values.reduce(0) { $0 + $1.ruleCount }
    }

    /// Every chain name of ours in this ruleset.
    public var chainNames: Set<String> {
        var names = Set(sharedChains.map(\.name))
        for pick in picks.values { if let chain = pick.chain { names.insert(chain.name) } }
        for rules in services.values { for chain in rules.chains { names.insert(chain.name) } }
        return names
    }

    /// Every set and map name of ours in this ruleset.
    public var setNames: Set<String> {
        var names = Set(sharedSets.map(\.name))
        for pick in picks.values { for set in pick.sets { names.insert(set.name) } }
        for rules in services.values { for set in rules.sets { names.insert(set.name) } }
        for map in affinityMaps { names.insert(map.name) }
        return names
    }

    /// The timed ClientIP-affinity maps the picks in use read: never flushed by a sync.
    public var affinityMaps: [NFTSet] { NFTablesRenderer.affinityMaps(picks.keys, in: table) }
}
