import NFTables
import ProxyModel
import Synchronization

/// How the nftables backend reaches the kernel: an `NFTConnection` (in the node's or another
/// network namespace), or a recorder in tests.
public protocol NFTablesTransport: Sendable {
    /// Applies `batch` as one transaction; returns the bytes sent.
    func apply(_ batch: NFTBatch) throws -> Int
    /// Chain and set names of one table, nil if it does not exist.
    func contents(of table: NFTTable) throws -> NFTTableContents?
    /// Deletes one table if it exists.
    func deleteTableIfPresent(_ table: NFTTable) throws -> Bool
    /// Elements of a named set (keys and data), nil if it does not exist.
    func elements(of set: NFTSet) throws -> [NFTSetElement]?
}

extension NFTablesTransport {
    /// The elements of a named set, nil if it does not exist (`NFTSetElementDump.swift`); a
    /// transport that cannot read has none.
    public func elements(of set: NFTSet) throws -> [NFTSetElement]? { nil }
}

extension NFTConnection: NFTablesTransport {}

/// `mode: nftables`: our table per family (`ip swift-kube-proxy`, `ip6 swift-kube-proxy`),
/// programmed through libnftnl/libmnl as one atomic netlink batch per family and sync.
///
/// It keeps the last applied model in memory. A normal sync sends only what changed: the chains
/// of changed Service ports (flushed and refilled), their map elements, and deletes of their stale
/// chains and sets; it reads the table only to delete a removed endpoint's affinity entries. A full sync (`changes == nil`, the first sync, a
/// node change, or the sync after any failure) re-asserts everything: table, chains, rules, every
/// map's elements, and removes stale chains and sets of ours. At adoption (the first sync of this
/// process) and after a failure it lists our table's chain and set names to find those. A failed
/// batch changes nothing in the kernel (the transaction is atomic) and is rethrown; the next sync
/// is full. Exit leaves the rules in place; `cleanup()` deletes our tables and nothing else.
public final class NFTablesBackend: RuleSyncBackend {
    public let config: RuleSyncConfig
    public let families: [IPAddress.Family]
    private let transport: any NFTablesTransport
    /// Deletes conntrack entries of UDP/SCTP flows to endpoints and frontends a sync made stale; nil: off.
    private let conntrack: ConntrackCleanup?
    private let state = Mutex(State())

    private struct State {
        var families: [IPAddress.Family: FamilyState] = [:]
        var staleFlows = StaleFlowBase()
    }

    private struct FamilyState {
        var applied: NFTablesRuleset?
        var needsFull = true
        /// The table's contents are unknown (start-up, or a failed sync): list them at the next full sync.
        var needsListing = true
        /// A full sync failed: recreate affinity sets whose definition may be what broke it.
        var recreateAffinitySets = false
        /// Whether the kernel has `destroy element` (nil: not asked yet; `NFTablesStaleAffinity`).
        var destroysElements: Bool?
        /// The sizes the last full sync gave the flushed sets (`NFTablesTransaction.setSizes`).
        var setSizes: [String: Int] = [:]
        var totalRules = 0
        var noLocalInternal: Set<ServicePortName> = []
        var noLocalExternal: Set<ServicePortName> = []
    }

    /// A backend that sends its batches through `transport`; after each successful sync,
    /// `conntrack` (if any) deletes the UDP/SCTP flows it made stale.
    public init(config: RuleSyncConfig, families: [IPAddress.Family] = [.ipv4, .ipv6], transport: any NFTablesTransport,
                conntrack: ConntrackCleanup? = nil) {
        self.config = config
        self.families = families
        self.transport = transport
        self.conntrack = conntrack
    }

    /// A backend with its own netlink connection, in this network namespace or the one at
    /// `networkNamespace` (`/run/netns/NAME`); stale UDP/SCTP flows are deleted with `conntrack`
    /// (run in that namespace through `nsenter`) unless `cleansConntrack` is false.
    public convenience init(config: RuleSyncConfig, families: [IPAddress.Family] = [.ipv4, .ipv6],
                            networkNamespace: String? = nil, cleansConntrack: Bool = true) throws(NFTError) {
        let connection: NFTConnection
        if let networkNamespace { connection = try NFTConnection(networkNamespace: networkNamespace) } else { connection = try NFTConnection() }
        let prefix = networkNamespace.map { ["nsenter", "--net=\($0)"] } ?? []
        self.init(config: config, families: families, transport: connection,
                  conntrack: cleansConntrack ? ConntrackCleanup(commandPrefix: prefix) : nil)
    }

    public func sync(_ snapshot: ProxySnapshot, changes: SnapshotDiff?) throws -> SyncReport {
        try state.withLock { st in
            var report = SyncReport(full: false)
            var firstError: (any Error)?
            for family in families {
                // Taken out of the dictionary, so the applied model is uniquely referenced and an
                // incremental sync edits it in place instead of copying every Service's rules.
                var fs = st.families.removeValue(forKey: family) ?? FamilyState()
                do {
                    try syncFamily(family, snapshot: snapshot, changes: changes, state: &fs, report: &report)
                } catch {
                    if fs.needsFull { fs.recreateAffinitySets = true }
                    fs.needsFull = true
                    fs.needsListing = true
                    if firstError == nil { firstError = error }
                }
                st.families[family] = fs
                report.noLocalEndpointsInternal += fs.noLocalInternal.count
                report.noLocalEndpointsExternal += fs.noLocalExternal.count
                report.totalRules[NFTablesNames.table(family).description] = fs.totalRules
            }
            try st.staleFlows.finishSync(snapshot, changes: changes, error: firstError, cleanup: conntrack, families: families)
            return report
        }
    }

    private func syncFamily(_ family: IPAddress.Family, snapshot: ProxySnapshot, changes: SnapshotDiff?,
                            state fs: inout FamilyState, report: inout SyncReport) throws {
        let renderer = NFTablesRenderer(config: config, family: family)
        incremental: if let changes, !changes.nodeChanged, !fs.needsFull, fs.applied != nil {
            var rendered: [ServicePortName: NFTablesServiceRules?] = [:]
            var noLocalInternal = fs.noLocalInternal, noLocalExternal = fs.noLocalExternal
            var validator = NFTablesServiceValidator(renderer)
            for name in changes.changed.sorted() {
                noLocalInternal.remove(name)
                noLocalExternal.remove(name)
                var rules: NFTablesServiceRules?
                if let service = snapshot.servicePorts[name],
                   let plan = ServiceForwardingPlan(service: service, endpoints: snapshot.endpoints[name] ?? [],
                                                    node: snapshot.node, config: config, family: family) {
                    switch validator.serviceRules(plan) {
                    case .success(let r): rules = r
                    case .failure(let skip): report.skipped.append(skip)  // rendered as gone: its old rules go
                    }
                    if plan.dropsInternalForNoLocalEndpoints { noLocalInternal.insert(name) }
                    if plan.dropsExternalForNoLocalEndpoints { noLocalExternal.insert(name) }
                }
                rendered[name] = .some(rules)
            }
            var t = NFTablesTransaction.incremental(from: fs.applied!, changes: rendered, renderer: renderer)
            // A set that would outgrow its size is made anew, larger, by a full sync.
            guard t.fits(sizes: fs.setSizes, applied: fs.applied!) else { break incremental }
            // Affinity entries of removed endpoints go in the same transaction (`NFTablesAffinity.swift`).
            let stale = NFTablesStaleAffinity(names: rendered.keys, before: { fs.applied!.services[$0] }, after: { rendered[$0] ?? nil })
            if !stale.isEmpty {
                for c in try stale.commands(maps: fs.applied!.affinityMaps, transport: transport, destroys: &fs.destroysElements) { t.batch.append(c) }
            }
            let bytes = try transport.apply(t.batch)
            var ruleDelta = 0
            for (name, rules) in rendered {
                ruleDelta += (rules?.ruleCount ?? 0) - (fs.applied!.services[name]?.ruleCount ?? 0)
            }
            fs.applied!.record(t, changes: rendered)
            fs.totalRules += ruleDelta
            fs.noLocalInternal = noLocalInternal
            fs.noLocalExternal = noLocalExternal
            report.add(t, bytes: bytes)
            return
        }

        // Each Service port planned as it is rendered, as `ForwardingPlan` would plan it.
        var noLocalInternal: Set<ServicePortName> = [], noLocalExternal: Set<ServicePortName> = []
        let ruleset = NFTablesRuleset(nodePorts: ForwardingPlan.nodePortScope(config: config, node: snapshot.node, family: family),
                                      names: snapshot.servicePorts.keys.sorted(), renderer: renderer) { name in
            guard let plan = ServiceForwardingPlan(service: snapshot.servicePorts[name]!, endpoints: snapshot.endpoints[name] ?? [],
                                                   node: snapshot.node, config: config, family: family) else { return nil }
            if plan.dropsInternalForNoLocalEndpoints { noLocalInternal.insert(name) }
            if plan.dropsExternalForNoLocalEndpoints { noLocalExternal.insert(name) }
            return plan
        }
        var existingChains: Set<String> = [], existingSets: Set<String> = []
        if fs.needsListing || fs.applied == nil {
            if let contents = try transport.contents(of: renderer.table) {
                existingChains = Set(contents.chains)
                existingSets = Set(contents.sets)
            }
        } else if let applied = fs.applied {
            existingChains = applied.chainNames
            existingSets = applied.setNames
        }
        var t = NFTablesTransaction.full(ruleset, existingChains: existingChains, existingSets: existingSets,
                                         recreateAffinitySets: fs.recreateAffinitySets)
        if !fs.recreateAffinitySets {
            // Kept affinity maps lose the entries of endpoints removed since the last sync, or (at
            // adoption) of any endpoint the table's Services no longer have.
            let kept = ruleset.affinityMaps.filter { existingSets.contains($0.name) }
            let stale = fs.applied.map { applied in
                NFTablesStaleAffinity(names: Array(applied.services.keys) + ruleset.services.keys.filter { applied.services[$0] == nil },
                                      before: { applied.services[$0] }, after: { ruleset.services[$0] })
            } ?? NFTablesStaleAffinity(adopting: kept.map(\.name), services: ruleset.services.values)
            if !stale.isEmpty {
                for c in try stale.commands(maps: kept, transport: transport, destroys: &fs.destroysElements) { t.batch.append(c) }
            }
        }
        let bytes = try transport.apply(t.batch)
        fs.applied = ruleset
        fs.setSizes = t.setSizes
        fs.needsFull = false
        fs.needsListing = false
        fs.recreateAffinitySets = false
        fs.totalRules = ruleset.ruleCount
        fs.noLocalInternal = noLocalInternal
        fs.noLocalExternal = noLocalExternal
        report.full = true
        report.skipped += ruleset.skipped
        report.add(t, bytes: bytes)
    }

    /// Deletes our tables (`ip swift-kube-proxy`, `ip6 swift-kube-proxy`) and nothing else.
    public func cleanup() throws {
        try state.withLock { st in
            for family in families { _ = try transport.deleteTableIfPresent(NFTablesNames.table(family)) }
            st = State()
        }
    }

    /// The model last applied for `family` (nil before the first successful sync).
    public func appliedRuleset(_ family: IPAddress.Family) -> NFTablesRuleset? {
        state.withLock { $0.families[family]?.applied }
    }
}

extension SyncReport {
    mutating func add(_ t: NFTablesTransaction, bytes: Int) {
        rulesWritten += t.rulesWritten
        chainsWritten += t.chainsWritten
        chainsDeleted += t.chainsDeleted
        bytesWritten += bytes
    }
}
