import ProxyModel

/// Every rule of ours for one address family, kept per Service port so a sync can compare and
/// rewrite only what changed. This is the "last applied state" the backend holds in memory.
public struct IPTablesRuleset: Sendable, Hashable {
    public var global: [IPTablesChainRef: [String]]
    public var services: [ServicePortName: IPTablesServiceRules]
    /// Service ports of the plan left out because `iptables-restore` would refuse their rules.
    public var skipped: [SkippedServicePort] = []

    public init(global: [IPTablesChainRef: [String]], services: [ServicePortName: IPTablesServiceRules]) {
        self.global = global
        self.services = services
    }

    public init(plan: ForwardingPlan, renderer: IPTablesRenderer) {
        global = renderer.globalChains(nodePorts: plan.nodePorts)
        var services: [ServicePortName: IPTablesServiceRules] = [:]
        services.reserveCapacity(plan.services.count)
        for (name, service) in plan.services {
            switch renderer.validatedServiceRules(service, nodePorts: plan.nodePorts) {
            case .success(let rules): services[name] = rules
            case .failure(let skip): skipped.append(skip)
            }
        }
        self.services = services
        skipped.sort { $0.name < $1.name }
    }

    /// Every chain of ours this ruleset holds.
    public var chains: Set<IPTablesChainRef> {
        var all = Set(global.keys)
        for s in services.values { all.formUnion(s.chains.keys) }
        return all
    }

    /// Rules of ours in `table` (hooks in the standard chains not counted).
    public func ruleCount(_ table: IPTablesTable) -> Int {
        global.filter { $0.key.table == table }.reduce(0) { $0 + $1.value.count }
            + services.values.reduce(0) { $0 + $1.ruleCount(table) }
    }
}

/// Text for `iptables-restore --noflush`, with what it does counted.
public struct IPTablesRestoreInput: Sendable {
    public private(set) var text = ""
    public private(set) var rulesWritten = 0
    public private(set) var chainsWritten = 0
    public private(set) var chainsDeleted = 0
    /// `rulesWritten` by table (`kubeproxy_sync_proxy_rules_iptables_last{table}`).
    public private(set) var rulesWrittenByTable: [IPTablesTable: Int] = [:]
    private var table: IPTablesTable = .filter

    public var isEmpty: Bool { text.isEmpty }
    public var bytes: Int { text.utf8.count }

    init() {}

    private mutating func line(_ s: String) {
        text += s
        text += "\n"
    }

    private mutating func begin(_ table: IPTablesTable) {
        self.table = table
        line("*\(table.rawValue)")
    }

    private mutating func countRule() {
        rulesWritten += 1
        rulesWrittenByTable[table, default: 0] += 1
    }

    /// Declaring a chain creates it, or (with --noflush) empties it.
    private mutating func declare(_ name: String) {
        line(":\(name) - [0:0]")
        chainsWritten += 1
    }

    private mutating func append(_ chain: String, _ rule: String) {
        text += "-A "; text += chain; text += " "; text += rule; text += "\n"
        countRule()
    }

    /// Rewrites all of our chains: every chain of `ruleset` declared (so emptied) and refilled,
    /// `existingChains` of ours that the ruleset no longer has deleted, `missingHooks` inserted at
    /// the top of their standard chains.
    public static func full(_ ruleset: IPTablesRuleset, existingChains: Set<IPTablesChainRef> = [],
                            missingHooks: [IPTablesHook] = IPTablesHook.all) -> IPTablesRestoreInput {
        var input = IPTablesRestoreInput()
        let sorted = ruleset.services.sorted { $0.key < $1.key }
        for table in [IPTablesTable.filter, .nat] {
            input.begin(table)
            let globals = ruleset.global.keys.filter { $0.table == table }.sorted()
            for ref in globals { input.declare(ref.name) }
            for (_, s) in sorted { for ref in s.chains.keys.sorted() where ref.table == table { input.declare(ref.name) } }
            let wanted = ruleset.chains
            let stale = existingChains.filter { $0.table == table && !wanted.contains($0) }.sorted()
            for ref in stale { input.line(":\(ref.name) - [0:0]") }

            for ref in globals {
                let fixed = ruleset.global[ref] ?? []
                // The NodePort catch-all must stay last in nat SKP-SERVICES.
                let fixedLast = ref == IPTablesRenderer.natServices
                if !fixedLast { for r in fixed { input.append(ref.name, r) } }
                for (_, s) in sorted { for r in s.dispatch[ref] ?? [] { input.append(ref.name, r) } }
                if fixedLast { for r in fixed { input.append(ref.name, r) } }
            }
            for (_, s) in sorted {
                for ref in s.chains.keys.sorted() where ref.table == table {
                    for r in s.chains[ref]! { input.append(ref.name, r) }
                }
            }
            for ref in stale {
                input.line("-X \(ref.name)")
                input.chainsDeleted += 1
            }
            input.insertHooks(missingHooks.filter { $0.table == table })
            input.line("COMMIT")
        }
        return input
    }

    private mutating func insertHooks(_ hooks: [IPTablesHook]) {
        // Inserting each at position 1, last first, keeps them in the listed order at the top.
        for hook in hooks.reversed() {
            line("-I \(hook.chain) 1 \(hook.rule)")
            countRule()
        }
    }

    /// Rewrites only what differs between `old` and `new` for the Service ports in `changed`: their
    /// chains that changed are redeclared and refilled, chains they no longer have are emptied and
    /// deleted, and their rules in the dispatch chains are deleted (`-D`) or inserted one by one, so
    /// a one-Service change costs a few lines whatever the number of Services. Empty when nothing differs.
    public static func partial(from old: IPTablesRuleset, to new: IPTablesRuleset,
                               changed: Set<ServicePortName>) -> IPTablesRestoreInput {
        var input = IPTablesRestoreInput()
        let names = changed.sorted()
        for table in [IPTablesTable.filter, .nat] {
            var declared: [IPTablesChainRef] = []
            var deleted: [IPTablesChainRef] = []
            var removals: [(String, String)] = []
            var additions: [(String, String)] = []
            for name in names {
                let before = old.services[name] ?? IPTablesServiceRules()
                let after = new.services[name] ?? IPTablesServiceRules()
                if before == after { continue }
                for ref in after.chains.keys.sorted() where ref.table == table && before.chains[ref] != after.chains[ref] {
                    declared.append(ref)
                }
                for ref in before.chains.keys.sorted() where ref.table == table && after.chains[ref] == nil {
                    deleted.append(ref)
                }
                for ref in IPTablesRenderer.dispatchChains where ref.table == table {
                    let o = before.dispatch[ref] ?? [], n = after.dispatch[ref] ?? []
                    if o == n { continue }
                    var remaining = [String: Int]()
                    for r in n { remaining[r, default: 0] += 1 }
                    for r in o {
                        if let c = remaining[r], c > 0 { remaining[r] = c - 1 } else { removals.append((ref.name, r)) }
                    }
                    var kept = [String: Int]()
                    for r in o { kept[r, default: 0] += 1 }
                    for r in n {
                        if let c = kept[r], c > 0 { kept[r] = c - 1 } else { additions.append((ref.name, r)) }
                    }
                }
            }
            if declared.isEmpty && deleted.isEmpty && removals.isEmpty && additions.isEmpty { continue }

            input.begin(table)
            for ref in declared { input.declare(ref.name) }
            for ref in deleted { input.line(":\(ref.name) - [0:0]") }
            for (chain, rule) in removals { input.line("-D \(chain) \(rule)") }
            for (chain, rule) in additions {
                if chain == IPTablesChains.services && table == .nat {
                    // Above the NodePort catch-all, which stays last.
                    input.line("-I \(chain) 1 \(rule)")
                    input.countRule()
                } else {
                    input.append(chain, rule)
                }
            }
            for ref in declared {
                let owner = names.first { new.services[$0]?.chains[ref] != nil }
                for r in owner.flatMap({ new.services[$0]?.chains[ref] }) ?? [] { input.append(ref.name, r) }
            }
            for ref in deleted {
                input.line("-X \(ref.name)")
                input.chainsDeleted += 1
            }
            input.line("COMMIT")
        }
        return input
    }

    /// Removes our hooks from the standard chains and empties and deletes our chains, given what
    /// `iptables-save` shows; leaves every other chain and rule alone.
    public static func cleanup(_ saved: IPTablesSaveListing) -> IPTablesRestoreInput {
        var input = IPTablesRestoreInput()
        for table in [IPTablesTable.filter, .nat] {
            let ours = saved.chains.filter { $0.table == table && $0.name.hasPrefix(IPTablesChains.prefix) }.sorted()
            let hooks = saved.rules.filter {
                $0.chain.table == table && IPTablesHook.standardChains.contains($0.chain.name) && $0.jumpsToOurChain
            }
            if ours.isEmpty && hooks.isEmpty { continue }
            input.begin(table)
            for ref in ours { input.line(":\(ref.name) - [0:0]") }
            for hook in hooks { input.line("-D \(hook.chain.name) \(hook.rule)") }
            for ref in ours {
                input.line("-X \(ref.name)")
                input.chainsDeleted += 1
            }
            input.line("COMMIT")
        }
        return input
    }
}

/// The parts of `iptables-save` output we read: chains and rules per table.
public struct IPTablesSaveListing: Sendable {
    public struct Rule: Sendable, Hashable {
        public var chain: IPTablesChainRef
        /// The text after `-A CHAIN `.
        public var rule: String

        /// `-j SKP-…` (or `-g SKP-…`): a rule that sends packets into one of our chains.
        public var jumpsToOurChain: Bool {
            rule.contains("-j \(IPTablesChains.prefix)") || rule.contains("-g \(IPTablesChains.prefix)")
        }
    }

    public var chains: Set<IPTablesChainRef> = []
    public var rules: [Rule] = []
    /// The packet counter of filter SKP-FORWARD's `ctstate INVALID` drop, when the listing has
    /// counters (`-c`) and the rule.
    public var invalidDropped: Int?

    public init(_ text: String) {
        var table: IPTablesTable?
        let invalidDrop = "-A \(IPTablesChains.forward) \(IPTablesRenderer.invalidDropRule)"
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            var raw = line
            // `-c` puts `[packets:bytes] ` before each rule.
            if raw.hasPrefix("["), let close = raw.firstIndex(of: "]") {
                let counters = raw[raw.index(after: raw.startIndex)..<close]
                raw = raw[raw.index(after: close)...].drop { $0 == " " }
                if table == .filter, raw == invalidDrop, let packets = Int(counters.prefix { $0 != ":" }) {
                    invalidDropped = (invalidDropped ?? 0) + packets
                }
            }
            if raw.hasPrefix("*") {
                table = IPTablesTable(rawValue: String(raw.dropFirst()))
            } else if let t = table, raw.hasPrefix(":") {
                let name = raw.dropFirst().prefix { $0 != " " }
                chains.insert(IPTablesChainRef(t, String(name)))
            } else if let t = table, raw.hasPrefix("-A ") {
                let rest = raw.dropFirst(3)
                let chain = rest.prefix { $0 != " " }
                // Rules in our own chains are not needed; skip them cheaply.
                if chain.hasPrefix(IPTablesChains.prefix) { continue }
                let rule = rest.dropFirst(chain.count).drop { $0 == " " }
                rules.append(Rule(chain: IPTablesChainRef(t, String(chain)), rule: String(rule)))
            }
        }
    }

    /// The INVALID drop's packet counter in `iptables -L SKP-FORWARD -n -v -x` output (a line
    /// `PKTS BYTES DROP … ctstate INVALID`); nil without that rule.
    public static func invalidDropped(inChainListing text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasSuffix("ctstate INVALID") {
            let words = line.split(separator: " ")
            if words.count > 2, words[2] == "DROP", let packets = Int(words[0]) { return packets }
        }
        return nil
    }

    /// Our chains present in the listing.
    public var ourChains: Set<IPTablesChainRef> { chains.filter { $0.name.hasPrefix(IPTablesChains.prefix) } }

    /// Hooks of ours not found: a rule in that standard chain jumping to that target, whatever its matches.
    public func missingHooks(_ hooks: [IPTablesHook] = IPTablesHook.all) -> [IPTablesHook] {
        let present = Set(rules.compactMap { r -> String? in
            guard IPTablesHook.standardChains.contains(r.chain.name) else { return nil }
            let words = r.rule.split(separator: " ")
            guard let j = words.firstIndex(of: "-j"), j + 1 < words.count else { return nil }
            let target = words[j + 1]
            return "\(r.chain.table.rawValue) \(r.chain.name) \(target)"
        })
        return hooks.filter { !present.contains("\($0.table.rawValue) \($0.chain) \($0.target)") }
    }
}
