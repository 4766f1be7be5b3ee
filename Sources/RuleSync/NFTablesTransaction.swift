import NFTables
import ProxyModel

/// The batch of one sync, and what it does to the applied model once the kernel took it.
/// Pure: built from models, never from the kernel, so tests read batches without root.
public struct NFTablesTransaction: Sendable {
    public var batch = NFTBatch()
    public var rulesWritten = 0
    public var chainsWritten = 0
    public var chainsDeleted = 0
    /// The size each flushed set was made with (full sync only): an incremental sync that would
    /// take a set past it is done as a full sync instead (`fits`), never failed with ENFILE.
    public var setSizes: [String: Int] = [:]
    /// Element changes to record in the applied model: set, key, the entry now (nil: gone).
    var elementUpdates: [(set: String, key: NFTValue, entry: NFTablesElementTable.Entry?)] = []
    /// Shared pick chains this transaction creates (a new endpoint count), with their dispatch.
    var addedPicks: [NFTablesPick: NFTablesPickRules] = [:]

    // MARK: full sync

    /// Re-asserts everything of `ruleset`: the table, every chain and set, all rules (the table's
    /// rules flushed first), every map's elements (each map flushed first); then deletes chains
    /// and sets of ours that `ruleset` no longer has. `existingChains`/`existingSets` are what the
    /// table holds (read at adoption or after a failure, or the previously applied model's names).
    /// With `recreateAffinitySets`, affinity sets that exist are deleted and created again (their
    /// definition may differ from ours after a failure or another version's run).
    public static func full(_ ruleset: NFTablesRuleset, existingChains: Set<String>, existingSets: Set<String>,
                            recreateAffinitySets: Bool = false) -> NFTablesTransaction {
        var t = NFTablesTransaction()
        let table = ruleset.table
        var existingChains = existingChains, existingSets = existingSets
        // A table of an earlier layout (per-Service chains and endpoint maps, or filter base chains
        // at another priority, which `add chain` cannot change; sets whose type changed): deleted
        // and added anew in this same transaction, so no packet sees it half replaced.
        if NFTablesNames.isEarlierLayout(chains: existingChains, sets: existingSets) {
            t.batch.add(table)
            t.batch.delete(table)
            existingChains = []
            existingSets = []
        }
        t.batch.add(table)
        t.batch.flush(table)
        let allChains = ruleset.chains
        for chain in allChains { t.batch.add(chain.chain) }
        t.chainsWritten = allChains.count
        // Kept with their elements (clients stay with their endpoints); never flushed.
        let affinitySets = ruleset.affinityMaps
        if recreateAffinitySets {
            for set in affinitySets where existingSets.contains(set.name) { t.batch.delete(set) }
        }
        // Flushed sets are deleted and added anew with a size for this sync's elements
        // (`NFTablesSetSize`): a set's size, which picks the kernel's hash and its buckets, is
        // fixed when the set is made. Their rules went with the `flush table` above.
        var elementSets = ruleset.sharedSets + ruleset.pickSets
        for i in elementSets.indices {
            let size = NFTablesSetSize.hint(elements: ruleset.elements(of: elementSets[i].name).count)
            elementSets[i].size = size
            t.setSizes[elementSets[i].name] = size
            if existingSets.contains(elementSets[i].name) { t.batch.delete(elementSets[i]) }
        }
        for set in elementSets + affinitySets { t.batch.add(set) }
        for chain in allChains {
            for rule in chain.rules { t.batch.add(rule) }
            t.rulesWritten += chain.rules.count
        }
        for set in elementSets {
            // A set we did not know of (an unread table) may still be there: emptied as before.
            if !existingSets.contains(set.name) { t.batch.flush(set) }
            let elements = ruleset.elements(of: set.name)
            if !elements.isEmpty { t.batch.add(elements, to: set) }
        }
        // Stale sets first: no rule reads them (the table's rules were flushed), and a verdict map
        // of an earlier layout may still hold `goto` elements to a stale chain.
        for stale in existingSets.subtracting(ruleset.setNames).sorted() {
            t.batch.delete(NFTSet.set(stale, in: table, key: .ipv4Addr))
        }
        let chainNames = ruleset.chainNames
        for stale in existingChains.subtracting(chainNames).sorted() {
            t.batch.delete(NFTChain.regular(stale, in: table))
            t.chainsDeleted += 1
        }
        return t
    }

    // MARK: incremental sync

    /// Only what changed for `changes` (each Service port's new rules, nil when it is gone),
    /// against the applied model: new chains and sets added, changed chains flushed and refilled,
    /// element deletes then adds, stale chains and sets deleted last (once nothing refers to them).
    /// `newSharedSets` are shared maps the changes need that the table does not have yet.
    public static func incremental(from applied: NFTablesRuleset, changes: [ServicePortName: NFTablesServiceRules?],
                                   renderer: NFTablesRenderer) -> NFTablesTransaction {
        var t = NFTablesTransaction()
        // A new endpoint count: its shared pick chain, before any element sends packets there.
        var newPicks: Set<NFTablesPick> = []
        for rules in changes.values { for pick in rules?.picks ?? [] where applied.picks[pick] == nil { newPicks.insert(pick) } }
        for pick in newPicks.sorted() {
            // A new affinity timeout: its map, before the chains that use it (sorted first).
            if pick.isAffinityRemember, let seconds = pick.affinitySeconds {
                t.batch.add(NFTablesRenderer.affinityMap(nodePort: pick.nodePort, seconds: seconds, in: renderer.table))
            }
            // The chain, then the sets that lead to it and the rules that read them.
            let added = renderer.pickRules(pick)
            t.addedPicks[pick] = added
            if let chain = added.chain {
                t.batch.add(chain.chain)
                for rule in chain.rules { t.batch.add(rule) }
                t.rulesWritten += chain.rules.count
                t.chainsWritten += 1
            }
            for set in added.sets { t.batch.add(set) }
            for rule in added.dispatch { t.batch.add(rule) }
            t.rulesWritten += added.dispatch.count
        }
        var addChains: [NFTChain] = [], addSets: [NFTSet] = [], flushChains: [NFTChain] = []
        var recreateSets: [NFTSet] = [], addRules: [NFTRule] = [], deleteChains: [NFTChain] = [], deleteSets: [NFTSet] = []
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
            for set in after.sets {
                if let old = beforeSets[set.name] {
                    if old != set { recreateSets.append(set); setRedefined = true }
                } else {
                    addSets.append(set)
                }
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
            for set in before.sets where !afterSets.contains(set.name) { deleteSets.append(set) }

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

        var deletes: [String: [NFTSetElement]] = [:], adds: [String: [NFTSetElement]] = [:]
        for (set, keys) in delta {
            let current = applied.elements[set] ?? NFTablesElementTable()
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
        var sharedSets = Dictionary(uniqueKeysWithValues: applied.sharedSets.map { ($0.name, $0) })
        for pick in Array(applied.picks.values) + Array(t.addedPicks.values) { for set in pick.sets { sharedSets[set.name] = set } }
        for (set, elements) in deletes.sorted(by: { $0.key < $1.key }) {
            if let s = sharedSets[set] { t.batch.delete(elements, from: s) }
        }
        for (set, elements) in adds.sorted(by: { $0.key < $1.key }) {
            if let s = sharedSets[set] { t.batch.add(elements, to: s) }
        }
        for chain in deleteChains { t.batch.delete(chain) }
        for set in deleteSets { t.batch.delete(set) }

        t.rulesWritten += addRules.count
        t.chainsWritten += addChains.count + flushChains.count - deleteChains.count
        t.chainsDeleted = deleteChains.count
        return t
    }
}

extension NFTablesRuleset {
    /// Records an applied incremental transaction: the Service ports' new rules and the element changes.
    mutating func record(_ t: NFTablesTransaction, changes: [ServicePortName: NFTablesServiceRules?]) {
        for (name, rules) in changes { services[name] = rules }
        picks.merge(t.addedPicks) { a, _ in a }
        for update in t.elementUpdates { elements[update.set, default: NFTablesElementTable()][update.key] = update.entry }
    }
}

/// The size a full sync gives a set of `elements` elements: at least a quarter more than them, so
/// incremental syncs can grow it before a full sync must make it anew. The kernel's `nft_hash`
/// takes `roundup_pow_of_two(size * 4 / 3)` buckets of 8 bytes, allocated with the set; a size of
/// three quarters of a power of two gets exactly that many buckets (at most 0.75 elements a
/// bucket), about what the resizable hash grows to for as many elements.
enum NFTablesSetSize {
    static func hint(elements: Int) -> Int {
        var buckets = 1024
        while buckets / 4 * 3 < elements + elements / 4 { buckets *= 2 }
        return buckets / 4 * 3
    }
}

extension NFTablesTransaction {
    /// Whether this incremental transaction keeps every sized set within its size: the applied
    /// count, plus the elements it adds, less the ones it deletes (the kernel counts the same way:
    /// deleted elements make room in the same batch).
    func fits(sizes: [String: Int], applied: NFTablesRuleset) -> Bool {
        guard !sizes.isEmpty else { return true }
        var counts: [String: Int] = [:]
        for command in batch.commands {
            switch command {
            case .addElements(let set, let elements) where sizes[set.name] != nil:
                counts[set.name, default: applied.elements(of: set.name).count] += elements.count
            case .deleteElements(let set, let elements) where sizes[set.name] != nil:
                counts[set.name, default: applied.elements(of: set.name).count] -= elements.count
            default: break
            }
        }
        return counts.allSatisfy { $0.value <= sizes[$0.key]! }
    }
}
