import NFTables
import ProxyModel

/// The batch of one sync, and what it does to the applied model once the kernel took it.
/// Pure: built from models, never from the kernel, so tests read batches without root.
public struct NFTablesTransaction: Sendable {
    public var batch = NFTBatch()
    public var rulesWritten = 0
    public var chainsWritten = 0
    public var chainsDeleted = 0
    /// Element changes to record in the applied model: set, key, the entry now (nil: gone).
    var elementUpdates: [(set: String, key: NFTValue, entry: NFTablesElementTable.Entry?)] = []

    // MARK: full sync

    /// Re-asserts everything of `ruleset`: the table, every chain and set, all rules (the table's
    /// rules flushed first), every map's elements (each map flushed first); then deletes chains
    /// and sets of ours that `ruleset` no longer has. `existingChains`/`existingSets` are what the
    /// table holds (read at adoption or after a failure, or the previously applied model's names);
    /// `previous` is the model applied before, when the table is known to hold it.
    ///
    /// The kernel keeps an existing set's definition when it is added again, so an endpoint map
    /// whose definition may differ (not in `previous`, or changed there) is deleted and created
    /// again. Affinity sets keep their clients across syncs and restarts; with
    /// `recreateAffinitySets` (after a failed sync, whose cause may be one of them) they are
    /// recreated too.
    public static func full(_ ruleset: NFTablesRuleset, existingChains: Set<String>, existingSets: Set<String>,
                            previous: NFTablesRuleset? = nil, recreateAffinitySets: Bool = false) -> NFTablesTransaction {
        var t = NFTablesTransaction()
        let table = ruleset.table
        t.batch.add(table)
        t.batch.flush(table)
        let names = ruleset.services.keys.sorted()
        let serviceChains = names.flatMap { ruleset.services[$0]!.chains }
        let allChains = ruleset.sharedChains + serviceChains
        for chain in allChains { t.batch.add(chain.chain) }
        t.chainsWritten = allChains.count
        let serviceSets = names.flatMap { ruleset.services[$0]!.sets }
        let previousSets = previous.map { p in
            Dictionary(p.services.values.flatMap(\.sets).map { ($0.name, $0.set) }, uniquingKeysWith: { a, _ in a })
        }
        var recreated: Set<String> = []
        for contents in serviceSets where existingSets.contains(contents.name) {
            let mayDiffer = contents.elements == nil ? recreateAffinitySets : previousSets?[contents.name] != contents.set
            if mayDiffer {
                t.batch.delete(contents.set)
                recreated.insert(contents.name)
            }
        }
        for set in ruleset.sharedSets { t.batch.add(set) }
        for contents in serviceSets { t.batch.add(contents.set) }
        for chain in allChains {
            for rule in chain.rules { t.batch.add(rule) }
            t.rulesWritten += chain.rules.count
        }
        for set in ruleset.sharedSets {
            t.batch.flush(set)
            let elements = ruleset.elements(of: set.name)
            if !elements.isEmpty { t.batch.add(elements, to: set) }
        }
        for contents in serviceSets {
            guard let elements = contents.elements else { continue }
            if existingSets.contains(contents.name) && !recreated.contains(contents.name) { t.batch.flush(contents.set) }
            if !elements.isEmpty { t.batch.add(elements, to: contents.set) }
        }
        let chainNames = ruleset.chainNames
        for stale in existingChains.subtracting(chainNames).sorted() {
            t.batch.delete(NFTChain.regular(stale, in: table))
            t.chainsDeleted += 1
        }
        for stale in existingSets.subtracting(ruleset.setNames).sorted() {
            t.batch.delete(NFTSet.set(stale, in: table, key: .ipv4Addr))
        }
        return t
    }

    // MARK: incremental sync

    /// Only what changed for `changes` (each Service port's new rules, nil when it is gone),
    /// against the applied model: new chains and sets added, changed chains flushed and refilled,
    /// a redefined set recreated (with its service's chains refilled, as they refer to it), an
    /// endpoint map whose elements changed flushed and refilled, shared-map element deletes then
    /// adds, stale chains and sets deleted last (once nothing refers to them).
    public static func incremental(from applied: NFTablesRuleset, changes: [ServicePortName: NFTablesServiceRules?]) -> NFTablesTransaction {
        var t = NFTablesTransaction()
        var addChains: [NFTChain] = [], addSets: [NFTSet] = [], flushChains: [NFTChain] = []
        var recreateSets: [NFTSet] = [], addRules: [NFTRule] = [], deleteChains: [NFTChain] = [], deleteSets: [NFTSet] = []
        var flushSets: [NFTSet] = [], setElements: [(NFTSet, [NFTSetElement])] = []
        // Per shared set: key -> (owner delta, the element a changed Service now wants).
        var delta: [String: [NFTValue: (count: Int, element: NFTSetElement?)]] = [:]

        for name in changes.keys.sorted() {
            let before = applied.services[name] ?? NFTablesServiceRules()
            let after = changes[name]! ?? NFTablesServiceRules()
            let beforeChains = Dictionary(before.chains.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let beforeSets = Dictionary(before.sets.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let afterChains = Set(after.chains.map(\.name))
            let afterSets = Set(after.sets.map(\.name))
            var setRedefined = false
            for contents in after.sets {
                let set = contents.set
                if let old = beforeSets[set.name], old.set == set {
                    guard let elements = contents.elements, elements != old.elements else { continue }
                    flushSets.append(set)
                } else if beforeSets[set.name] != nil {
                    recreateSets.append(set)
                    setRedefined = true
                } else {
                    addSets.append(set)
                }
                if let elements = contents.elements, !elements.isEmpty { setElements.append((set, elements)) }
            }
            for chain in after.chains {
                if let old = beforeChains[chain.name] {
                    guard setRedefined || old.rules != chain.rules else { continue }
                    flushChains.append(chain.chain)
                } else {
                    addChains.append(chain.chain)
                }
                addRules += chain.rules
            }
            for chain in before.chains where !afterChains.contains(chain.name) {
                flushChains.append(chain.chain)
                deleteChains.append(chain.chain)
            }
            for contents in before.sets where !afterSets.contains(contents.name) { deleteSets.append(contents.set) }

            for (set, elements) in before.elements {
                for e in elements { delta[set, default: [:]][e.key, default: (0, nil)].count -= 1 }
            }
            for (set, elements) in after.elements {
                for e in elements {
                    delta[set, default: [:]][e.key, default: (0, nil)].count += 1
                    delta[set]![e.key]!.element = e
                }
            }
        }

        for chain in addChains { t.batch.add(chain) }
        for set in addSets { t.batch.add(set) }
        for chain in flushChains { t.batch.flush(chain) }
        for set in recreateSets {
            t.batch.delete(set)
            t.batch.add(set)
        }
        for rule in addRules { t.batch.add(rule) }
        for set in flushSets { t.batch.flush(set) }
        for (set, elements) in setElements { t.batch.add(elements, to: set) }

        var deletes: [String: [NFTSetElement]] = [:], adds: [String: [NFTSetElement]] = [:]
        for (set, keys) in delta {
            let current = applied.elements[set]?.entries ?? [:]
            for (key, change) in keys {
                let old = current[key]
                let owners = (old?.owners ?? 0) + change.count
                if owners <= 0 {
                    if let old { deletes[set, default: []].append(old.element) }
                    t.elementUpdates.append((set, key, nil))
                } else if let old {
                    var entry = old
                    entry.owners = owners
                    if let wanted = change.element, wanted.value != old.element.value {
                        deletes[set, default: []].append(old.element)
                        adds[set, default: []].append(wanted)
                        entry.element = wanted
                    }
                    t.elementUpdates.append((set, key, entry))
                } else if let wanted = change.element {
                    adds[set, default: []].append(wanted)
                    t.elementUpdates.append((set, key, .init(element: wanted, owners: owners)))
                }
            }
        }
        let sharedSets = Dictionary(uniqueKeysWithValues: applied.sharedSets.map { ($0.name, $0) })
        for (set, elements) in deletes.sorted(by: { $0.key < $1.key }) {
            if let s = sharedSets[set] { t.batch.delete(elements, from: s) }
        }
        for (set, elements) in adds.sorted(by: { $0.key < $1.key }) {
            if let s = sharedSets[set] { t.batch.add(elements, to: s) }
        }
        for chain in deleteChains { t.batch.delete(chain) }
        for set in deleteSets { t.batch.delete(set) }

        t.rulesWritten = addRules.count
        t.chainsWritten = addChains.count + flushChains.count - deleteChains.count
        t.chainsDeleted = deleteChains.count
        return t
    }
}

extension NFTablesRuleset {
    /// Records an applied incremental transaction: the Service ports' new rules and the element changes.
    mutating func record(_ t: NFTablesTransaction, changes: [ServicePortName: NFTablesServiceRules?]) {
        for (name, rules) in changes { services[name] = rules }
        for update in t.elementUpdates { elements[update.set, default: NFTablesElementTable()].entries[update.key] = update.entry }
    }
}
