import NFTables
import ProxyModel
#if canImport(Glibc)
import Glibc
#endif

/// ClientIP session affinity without a chain per Service or endpoint (issue #10 step 2).
///
/// One timed dynamic map per distinct timeout T, `affinity-T` (`nodeport-affinity-T` for NodePorts):
/// `client . frontend : endpoint . port`. A frontend with affinity goes to `affinity-pick-N-T`:
/// DNAT to the client's entry in the map if it has one, else pick as `pick-N` does. The map is filled
/// once the DNAT is known, from conntrack: the base chains `affinity-prerouting`/`-output` run just
/// after the NAT chains and send a new DNATed connection of an affinity frontend
/// (`ct original ip daddr . meta l4proto . ct original proto-dst @affinity-frontends-T`) to
/// `affinity-remember-T`, which `update`s the map with the DNAT's target (`ip daddr . th dport`) when
/// that is still an endpoint of the frontend (`@affinity-endpoints`), or else deletes the client's
/// entry and drops the packet: a stale entry (its endpoint removed) is gone, and the client's retry
/// picks again (a backstop: a sync deletes a removed endpoint's entries first, `NFTablesStaleAffinity`).
/// Every rule is plain nft syntax (`nft list` prints it and reads it back).
/// The maps are never flushed by a sync, so clients keep their endpoint.
extension NFTablesRenderer {
    /// The timed map of a pick kind and timeout (`client . frontend : endpoint . port`).
    static func affinityMap(nodePort: Bool, seconds: Int, in table: NFTTable) -> NFTSet {
        let address: NFTDataType = table.family == .ip6 ? .ipv6Addr : .ipv4Addr
        let key: NFTDataType = nodePort ? .concat(address, .inetProto, .inetService) : .concat(address, address, .inetProto, .inetService)
        var map = NFTSet.map(N.affinityMap(nodePort: nodePort, seconds: seconds), in: table, key: key,
                             to: .data(.concat(address, .inetService)), flags: [.dynamic, .timeout],
                             comment: "ClientIP affinity: client . frontend : endpoint . port")
        map.timeout = .seconds(seconds)
        return map
    }

    /// The affinity maps the picks in use need (one per pick kind and timeout).
    static func affinityMaps(_ picks: some Sequence<NFTablesPick>, in table: NFTTable) -> [NFTSet] {
        Set(picks.filter(\.isAffinityRemember)).sorted().map { affinityMap(nodePort: $0.nodePort, seconds: $0.affinitySeconds!, in: table) }
    }

    /// The shared sets of affinity: the endpoints each frontend may keep (the frontends are in
    /// the dispatch sets of their remember chains, `NFTablesDispatch`).
    var affinitySets: [NFTSet] {
        [
            .set(N.affinityEndpoints, in: table, key: .concat(serviceKey, addressType, .inetService),
                 comment: "affinity frontend . endpoint . port: an entry for another endpoint is stale"),
            .set(N.nodePortAffinityEndpoints, in: table, key: .concat(Self.portKey, addressType, .inetService),
                 comment: "affinity NodePort . endpoint . port"),
        ]
    }

    /// Where a load puts its value: a packet field, or a conntrack key with its length.
    private enum Part {
        case field(NFTField)
        case ct(NFTExpression.CTKey, length: Int)

        var length: Int {
            switch self {
            case .field(let f): f.length
            case .ct(_, let length): length
            }
        }
    }

    /// `parts` loaded one after another from the 32-bit word `start` of reg 1 (as a concatenation).
    private func load(_ parts: [Part], from start: Int) -> [NFTExpression] {
        var word = start
        return parts.map { part in
            defer { word += (part.length + 3) / 4 }
            switch part {
            case .field(let f): return f.load(into: .word(word))
            case .ct(let key, _): return .ct(key, into: .word(word))
            }
        }
    }

    private func words(_ parts: [Part]) -> Int { parts.reduce(0) { $0 + ($1.length + 3) / 4 } }

    /// The frontend a DNATed connection was sent to: `ct original ip daddr . meta l4proto . ct original
    /// proto-dst` (NodePorts: `meta l4proto . ct original proto-dst`).
    private func originalFrontend(nodePort: Bool) -> [Part] {
        let port = Part.ct(.originalProtoDst, length: 2)
        if nodePort { return [.field(.l4proto), port] }
        return [family == .ipv4 ? .ct(.originalDstIP, length: 4) : .ct(.originalDstIP6, length: 16), .field(.l4proto), port]
    }

    /// `meta l4proto tcp`, `udp`, `sctp`: a rule with `ct … proto-dst` in a concatenation is one per
    /// protocol, which gives the port its type when nft reads the listing back (else "variable sized
    /// data types (invalid) in concat expressions"). A rule has no payload match nft could take the
    /// protocol from and then drop the `meta l4proto` as a mere dependency.
    static let protocols: [NFTProtocol] = [.tcp, .udp, .sctp]

    /// The rules of `affinity-prerouting`/`-output`: new DNATed connections to the dispatch chains
    /// of affinity frontends (`NFTablesDispatch`), which send them to their timeout's
    /// `affinity-remember-T`. Frontends by address first, then NodePorts, as the NAT chains decide;
    /// a connection to a ClusterIP never counts as a NodePort's (a ClusterIP port may have a
    /// NodePort's number, and the remember chain would take its endpoint for a stale one).
    func affinityBaseRules(_ chain: String) -> [NFTRule] {
        let clusterIP = NFTStatement.expressions(
            [.ct(family == .ipv4 ? .originalDstIP : .originalDstIP6, into: .r1), .lookup(.named(N.clusterIPs), from: .r1, into: nil, inverted: true)],
            description: "ct original \(family == .ipv4 ? "ip" : "ip6") daddr != @\(N.clusterIPs)")
        return [
            rule(chain, [.ctState(.new), .ctStatusDNAT(), .jump(NFTablesDispatch.affinityFrontends.chainName)]),
            rule(chain, [.ctState(.new), .ctStatusDNAT(), clusterIP, .jump(NFTablesDispatch.nodePortAffinityFrontends.chainName)]),
        ]
    }

    /// The rules of `affinity-frontends` (`nodeport-affinity-frontends`) for one timeout: the
    /// connection's original frontend in `set` goes to `remember`, one rule per protocol.
    func affinityDispatchRules(_ dispatch: NFTablesDispatch, set: String, to remember: NFTablesPick) -> [NFTRule] {
        let frontend = originalFrontend(nodePort: dispatch.nodePort)
        let lookup = NFTStatement.expressions(load(frontend, from: 0) + [.lookup(.named(set), from: .r1, into: nil, inverted: false)],
                                              description: "\(dispatch.nodePort ? "meta l4proto" : "ct original \(family == .ipv4 ? "ip" : "ip6") daddr . meta l4proto") . ct original proto-dst @\(set)")
        return Self.protocols.map { p in rule(dispatch.chainName, [.match(.l4proto, .proto(p)), lookup, .goto(remember.chainName)]) }
    }

    /// `affinity-pick-N-T` (and its local and NodePort kinds): the client's remembered endpoint, or a pick.
    func affinityPickChain(_ pick: NFTablesPick, seconds: Int) -> NFTablesChainRules {
        let name = pick.chainName
        let mode: NFTExpression.NumgenMode = config.endpointPick == .roundRobin ? .inc : .random
        let map = N.affinityMap(nodePort: pick.nodePort, seconds: seconds)
        let frontend: [NFTField] = pick.nodePort ? [.l4proto, .thDport] : [daddr, .l4proto, .thDport]
        let key = [saddr] + frontend
        // The value is the address then the port, as the endpoint maps' (`NFTNumgenMap.swift`).
        let port = NFTRegister.word(family == .ipv6 ? 4 : 1)
        let remembered = NFTStatement.expressions(NFTField.loadConcatenation(key) + [
            .lookup(.named(map), from: .r1, into: .r1, inverted: false),
            .nat(.dnat, family: table.family, address: .r1, port: port, flags: 0),
        ], description: "dnat \(table.family.rawValue) to \(key.map(\.description).joined(separator: " . ")) map @\(map)")
        return NFTablesChainRules(chain(name), [
            rule(name, [remembered], comment: "ClientIP affinity: the remembered endpoint"),
            rule(name, [.dnat(key: frontend, numgen: mode, modulus: UInt32(pick.endpoints), offset: pick.local ? NFTablesPick.localBase : 0,
                              map: pick.nodePort ? N.nodePortEndpoints : N.serviceEndpoints, family: table.family)]),
        ])
    }

    /// `affinity-remember-T`: a new DNATed connection's target (`ct reply ip saddr . ct reply
    /// proto-src`) goes into the map (an entry that exists is only refreshed), if it is still an
    /// endpoint of the frontend; else the entry was stale: it is deleted and the packet dropped, so
    /// the client's retry (a TCP SYN is sent again) picks anew.
    func affinityRememberChain(_ pick: NFTablesPick, seconds: Int) -> NFTablesChainRules {
        let name = pick.chainName
        let map = N.affinityMap(nodePort: pick.nodePort, seconds: seconds)
        let frontend = originalFrontend(nodePort: pick.nodePort)
        let client = Part.field(saddr)
        let key = [client] + frontend
        let endpointWord = words(key)
        let endpoint: [Part] = [family == .ipv4 ? .ct(.replySrcIP, length: 4) : .ct(.replySrcIP6, length: 16), .ct(.replyProtoSrc, length: 2)]
        let loads = load(key, from: 0) + load(endpoint, from: endpointWord)
        let ip = family == .ipv4 ? "ip" : "ip6"
        let frontendText = (pick.nodePort ? "" : "ct original \(ip) daddr . ") + "meta l4proto . ct original proto-dst"
        let element = "\(ip) saddr . \(frontendText) : ct reply \(ip) saddr . ct reply proto-src"
        let validity = pick.nodePort ? N.nodePortAffinityEndpoints : N.affinityEndpoints
        let remember = NFTStatement.expressions(loads + [
            .lookup(.named(validity), from: .word(words([client])), into: nil, inverted: false),
            .dynset(.update, set: map, key: .r1, data: .word(endpointWord), timeout: nil),
        ], description: "\(frontendText) . ct reply \(ip) saddr . ct reply proto-src @\(validity) update @\(map) { \(element) }")
        let forget = NFTStatement.expressions(loads + [
            .dynset(.delete, set: map, key: .r1, data: .word(endpointWord), timeout: nil),
        ], description: "delete @\(map) { \(element) }")
        return NFTablesChainRules(chain(name), Self.protocols.map { p in
            rule(name, [.match(.l4proto, .proto(p)), remember, .accept], comment: "ClientIP affinity: remember the endpoint")
        } + Self.protocols.map { p in
            rule(name, [.match(.l4proto, .proto(p)), forget, .drop], comment: "ClientIP affinity: a removed endpoint, the client retries")
        })
    }

    /// What an affinity frontend adds beside its `pick`: its remember chain and its endpoints.
    func affinityFrontend(_ endpoints: [Endpoint], frontend: NFTValue, nodePort: Bool, seconds: Int, comment: String,
                          into out: inout NFTablesServiceRules) {
        let remember = NFTablesPick.affinityRemember(nodePort: nodePort, seconds: seconds)
        if !out.picks.contains(remember) { out.picks.append(remember) }
        let frontends = NFTablesDispatch.dispatches(to: remember)[0].setName(remember)
        let element = NFTSetElement(key: frontend, comment: comment)
        if !(out.elements[frontends]?.contains(element) ?? false) { out.add(element, to: frontends) }
        let set = nodePort ? N.nodePortAffinityEndpoints : N.affinityEndpoints
        for ep in endpoints {
            let element = NFTSetElement(key: .concat(frontend, Self.value(ep.address), .port(UInt16(ep.port))))
            // A Local-policy frontend picks from its local endpoints and (short-circuits) from all.
            if !(out.elements[set]?.contains(element) ?? false) { out.add(element, to: set) }
        }
    }
}

/// The entries of the timed affinity maps a sync makes stale: those of a frontend that left a map
/// (its Service port gone, its affinity or timeout changed) and those that point to an endpoint the
/// frontend no longer has. They go (`destroy element`) in the sync's own transaction, read with one
/// `GETSETELEM` dump per affected map just before; only a sync that removes something dumps.
/// Entries made between the dump and the commit are left to the datapath's check (`affinityRememberChain`).
struct NFTablesStaleAffinity: Sendable, Equatable {
    private typealias N = NFTablesNames
    /// Per timed map: the frontends whose entries are checked; nil: every entry (adopting a table).
    var checked: [String: Set<NFTValue>?] = [:]
    /// Per timed map: `frontend . endpoint . port` a checked frontend's entry may still point to.
    var valid: [String: Set<NFTValue>] = [:]

    var isEmpty: Bool { checked.isEmpty }

    /// What changes from `before` to `after` for Service ports in `names` (an incremental sync's
    /// changed ones, or every one at a full sync).
    init(names: some Sequence<ServicePortName>, before: (ServicePortName) -> NFTablesServiceRules?, after: (ServicePortName) -> NFTablesServiceRules?) {
        var lost: [String: Set<NFTValue>] = [:]
        for name in names {
            let old = before(name).map(Self.entries) ?? [:]
            let new = after(name).map(Self.entries) ?? [:]
            // Valid whatever lost them: a frontend may move to another Service port in one sync.
            for (map, now) in new { valid[map, default: []].formUnion(now.endpoints) }
            for (map, was) in old {
                let now = new[map] ?? ([], [])
                var gone = was.frontends.subtracting(now.frontends)
                let length = was.frontends.first?.bytes.count ?? 0
                for endpoint in was.endpoints.subtracting(now.endpoints) { gone.insert(NFTValue(bytes: Array(endpoint.bytes.prefix(length)))) }
                if !gone.isEmpty { lost[map, default: []].formUnion(gone) }
            }
        }
        for (map, frontends) in lost { checked[map] = .some(frontends) }
    }

    /// At adoption (the table was there before this process): every entry of `maps` checked against `services`.
    init(adopting maps: some Sequence<String>, services: some Sequence<NFTablesServiceRules>) {
        for map in maps { checked[map] = .some(nil) }
        for rules in services {
            for (map, now) in Self.entries(rules) where checked[map] != nil { valid[map, default: []].formUnion(now.endpoints) }
        }
    }

    /// Per timed map, one Service port's affinity frontends and their `frontend . endpoint . port`.
    static func entries(_ rules: NFTablesServiceRules) -> [String: (frontends: Set<NFTValue>, endpoints: Set<NFTValue>)] {
        var result: [String: (frontends: Set<NFTValue>, endpoints: Set<NFTValue>)] = [:]
        for pick in rules.picks where pick.isAffinityRemember {
            let frontends = Set((rules.elements[NFTablesDispatch.dispatches(to: pick)[0].setName(pick)] ?? []).map(\.key))
            guard let length = frontends.first?.bytes.count else { continue }
            let endpoints = (rules.elements[pick.nodePort ? N.nodePortAffinityEndpoints : N.affinityEndpoints] ?? [])
                .map(\.key).filter { frontends.contains(NFTValue(bytes: Array($0.bytes.prefix(length)))) }
            result[N.affinityMap(nodePort: pick.nodePort, seconds: pick.affinitySeconds!)] = (frontends, Set(endpoints))
        }
        return result
    }

    /// The entries of `map` (as dumped: `client . frontend : endpoint . port`) that are stale.
    func stale(_ entries: [NFTSetElement], of map: NFTSet) -> [NFTSetElement] {
        guard let checked = checked[map.name] else { return [] }
        let clientLength = map.table.family == .ip6 ? 16 : 4
        let valid = valid[map.name] ?? []
        return entries.filter { entry in
            let frontend = Array(entry.key.bytes.dropFirst(clientLength))
            if let checked, !checked.contains(NFTValue(bytes: frontend)) { return false }
            guard case .data(let target) = entry.value else { return true }
            return !valid.contains(NFTValue(bytes: frontend + target.bytes))
        }
    }

    /// `destroy element` commands for the stale entries of those of `maps` this covers, one dump
    /// each; none when the kernel has no `destroy element` (before 6.3, `destroys` false: asked once
    /// with a destroy of an element that is not there; the datapath's check then does it all).
    func commands(maps: [NFTSet], transport: any NFTablesTransport, destroys: inout Bool?) throws -> [NFTCommand] {
        var commands: [NFTCommand] = []
        for map in maps where checked[map.name] != nil && destroys != false {
            let stale = stale(try transport.elements(of: map) ?? [], of: map)
            guard !stale.isEmpty else { continue }
            if destroys == nil { destroys = try Self.kernelDestroys(map, transport: transport) }
            if destroys == true { commands.append(.destroyElements(map, stale)) }
        }
        return commands
    }

    /// Whether the kernel takes `destroy element`: one that is not there succeeds on 6.3 and later.
    private static func kernelDestroys(_ map: NFTSet, transport: any NFTablesTransport) throws -> Bool {
        var absent = NFTSetElement(key: NFTValue(bytes: Array(repeating: 0, count: map.keyType.length)))
        if case .data(let type) = map.mapping { absent.value = .data(NFTValue(bytes: Array(repeating: 0, count: type.length))) }
        do {
            _ = try transport.apply(NFTBatch([.destroyElements(map, [absent])]))
            return true
        } catch NFTError.commandFailed(_, _, let code) where code == EINVAL || code == EOPNOTSUPP {
            return false
        }
    }
}
