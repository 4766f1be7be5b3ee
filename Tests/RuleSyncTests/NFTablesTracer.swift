import NFTables
import ProxyModel
@testable import RuleSync

/// Traces one new connection's first packet through a rendered `NFTablesRuleset`, in the style of
/// kube-proxy's nftables `helpers_test.go` tracer, but over the kernel expressions our rules
/// encode (a tiny register machine): payload/meta/ct/fib loads, cmp, bitwise, lookups in named and
/// anonymous sets and verdict maps, numgen (every choice is followed: "one of"), dnat, masquerade,
/// reject, dynset. Base chains are run in hook and priority order, as netfilter would.
struct NFTablesTracer {
    enum Verdict: Hashable, Sendable { case accept, drop, reject }

    struct Outcome: Hashable, Sendable, CustomStringConvertible {
        var verdict: Verdict
        var dnat: String?
        var masqueraded: Bool
        /// Affinity maps the packet's client was added to or refreshed in.
        var affinityUpdates: [String] = []

        var description: String {
            "\(verdict)\(dnat.map { " dnat \($0)" } ?? "")\(masqueraded ? " masq" : "")\(affinityUpdates.isEmpty ? "" : " update \(affinityUpdates)")"
        }
    }

    let ruleset: NFTablesRuleset
    let localAddresses: Set<IPAddress>
    let chains: [String: NFTablesChainRules]
    /// Entries already in the timed affinity maps, key bytes to value bytes (a returning client).
    var affinity: [String: [[UInt8]: [UInt8]]] = [:]

    /// Remembers that `client` was sent to `endpoint` for `destination:port` (`nodePort`: a NodePort
    /// entry, keyed without the destination), in the map of `seconds`.
    mutating func remember(_ client: String, to destination: String, port: Int, proto: NFTProtocol = .tcp, nodePort: Bool = false,
                           endpoint: String, endpointPort: Int, seconds: Int) {
        let c = NFTValue(bytes: IPAddress(client)!.bytes), d = NFTValue(bytes: IPAddress(destination)!.bytes)
        let key: NFTValue = nodePort ? .concat(c, .proto(proto), .port(UInt16(port))) : .concat(c, d, .proto(proto), .port(UInt16(port)))
        let value = NFTValue.concat(NFTValue(bytes: IPAddress(endpoint)!.bytes), .port(UInt16(endpointPort)))
        affinity[NFTablesNames.affinityMap(nodePort: nodePort, seconds: seconds), default: [:]][key.bytes] = value.bytes
    }

    init(_ ruleset: NFTablesRuleset, localAddresses: Set<IPAddress>) {
        self.ruleset = ruleset
        self.localAddresses = localAddresses
        var chains: [String: NFTablesChainRules] = [:]
        for c in ruleset.chains { chains[c.name] = c }
        self.chains = chains
    }

    /// Where a new connection from `source` to `destination:port` ends, over every numgen choice.
    /// A source among the local addresses is traced through the output path, others through prerouting.
    func trace(from source: String, to destination: String, port: Int, proto: String = "tcp") -> Set<Outcome> {
        var outcomes: Set<Outcome> = []
        var pending: [[Int]] = [[]]
        while let choices = pending.popLast() {
            var run = Run(tracer: self, choices: choices)
            let p = Packet(saddr: IPAddress(source)!, daddr: IPAddress(destination)!, proto: proto == "udp" ? 17 : proto == "sctp" ? 132 : 6,
                           dport: UInt16(port))
            switch run.path(p) {
            case .done(let outcome): outcomes.insert(outcome)
            case .needChoice(let modulus): for i in 0..<modulus { pending.append(choices + [i]) }
            }
        }
        return outcomes
    }

    struct Packet {
        var saddr: IPAddress
        var daddr: IPAddress
        var proto: UInt8
        var sport: UInt16 = 40000
        var dport: UInt16
        var mark: UInt32 = 0
    }

    enum PathResult { case done(Outcome), needChoice(Int) }
    enum ChainResult { case fellThrough, accept, drop, reject, needChoice(Int) }
    struct Choice: Error { var modulus: Int }

    struct Run {
        let tracer: NFTablesTracer
        var choices: [Int]
        var packet = Packet(saddr: IPAddress("0.0.0.0")!, daddr: IPAddress("0.0.0.0")!, proto: 0, dport: 0)
        /// The packet as sent, for `ct original …`.
        var original = Packet(saddr: IPAddress("0.0.0.0")!, daddr: IPAddress("0.0.0.0")!, proto: 0, dport: 0)
        var dnat: String?
        var masqueraded = false
        var updates: [String] = []
        /// The affinity maps as this packet changes them.
        var affinity: [String: [[UInt8]: [UInt8]]]
        var registers = [UInt8](repeating: 0, count: 80)
        var verdictRegister: NFTVerdict?

        init(tracer: NFTablesTracer, choices: [Int]) {
            self.tracer = tracer
            self.choices = choices
            affinity = tracer.affinity
        }

        func baseChains(_ hook: NFTChain.HookPoint, type: NFTChain.ChainType) -> [NFTablesChainRules] {
            tracer.chains.values.filter { $0.chain.hook?.point == hook && $0.chain.hook?.type == type }
                .sorted { $0.chain.hook!.priority < $1.chain.hook!.priority }
        }

        func allBaseChains(_ hook: NFTChain.HookPoint) -> [NFTablesChainRules] {
            tracer.chains.values.filter { $0.chain.hook?.point == hook }.sorted { $0.chain.hook!.priority < $1.chain.hook!.priority }
        }

        mutating func path(_ p: Packet) -> PathResult {
            packet = p
            original = p
            let local = tracer.localAddresses.contains(p.saddr)
            var hooks: [NFTChain.HookPoint] = local ? [.output] : [.prerouting]
            var index = 0
            while index < hooks.count {
                let hook = hooks[index]
                for chain in allBaseChains(hook) {
                    switch run(chain.name) {
                    case .fellThrough, .accept: continue
                    case .drop: return .done(outcome(.drop))
                    case .reject: return .done(outcome(.reject))
                    case .needChoice(let m): return .needChoice(m)
                    }
                }
                if hook == .prerouting { hooks.append(tracer.localAddresses.contains(packet.daddr) ? .input : .forward) }
                if hook == .forward || hook == .output { hooks.append(.postrouting) }
                index += 1
            }
            return .done(outcome(.accept))
        }

        func outcome(_ v: Verdict) -> Outcome { Outcome(verdict: v, dnat: dnat, masqueraded: masqueraded, affinityUpdates: updates) }

        mutating func run(_ chainName: String) -> ChainResult {
            guard let chain = tracer.chains[chainName] else { fatalError("no chain \(chainName)") }
            rules: for rule in chain.rules {
                verdictRegister = nil
                for expression in rule.expressions {
                    do {
                        guard try eval(expression) else { continue rules }
                    } catch let choice as Choice {
                        return .needChoice(choice.modulus)
                    } catch { fatalError("\(error)") }
                    if let terminal = terminalResult { terminalResult = nil; return terminal }
                    if let v = verdictRegister {
                        verdictRegister = nil
                        switch v {
                        case .accept: return .accept
                        case .drop: return .drop
                        case .return: return .fellThrough
                        case .continue: continue
                        case .jump(let target):
                            let r = run(target)
                            if case .fellThrough = r { continue rules }
                            return r
                        case .goto(let target):
                            return run(target)
                        }
                    }
                }
            }
            return .fellThrough
        }

        var terminalResult: ChainResult?

        // MARK: the register machine

        func offset(_ r: NFTRegister) -> Int { r.rawValue >= 8 ? Int(r.rawValue - 8) * 4 : Int(r.rawValue - 1) * 16 }

        mutating func store(_ bytes: [UInt8], _ r: NFTRegister) {
            let o = offset(r)
            let padded = (bytes.count + 3) & ~3
            for i in 0..<padded { registers[o + i] = i < bytes.count ? bytes[i] : 0 }
        }

        func load(_ r: NFTRegister, _ length: Int) -> [UInt8] { Array(registers[offset(r)..<offset(r) + length]) }

        func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }

        func header(_ base: NFTExpression.PayloadBase) -> [UInt8] {
            switch base {
            case .network:
                var h = [UInt8](repeating: 0, count: 40)
                let s = packet.saddr.bytes, d = packet.daddr.bytes
                if s.count == 4 { h.replaceSubrange(12..<16, with: s); h.replaceSubrange(16..<20, with: d) } else {
                    h.replaceSubrange(8..<24, with: s); h.replaceSubrange(24..<40, with: d)
                }
                return h
            case .transport:
                return [UInt8(packet.sport >> 8), UInt8(packet.sport & 0xff), UInt8(packet.dport >> 8), UInt8(packet.dport & 0xff)]
            case .link:
                return [UInt8](repeating: 0, count: 14)
            }
        }

        /// Whether the rule goes on (a failed match ends it).
        mutating func eval(_ e: NFTExpression) throws -> Bool {
            switch e {
            case .payload(let base, let off, let length, let r):
                store(Array(header(base)[Int(off)..<Int(off + length)]), r)
            case .meta(let key, let r):
                switch key {
                case .mark: store(u32(packet.mark), r)
                case .l4proto: store([packet.proto], r)
                case .nfproto: store([packet.saddr.family == .ipv4 ? 2 : 10], r)
                case .iifname, .oifname: store([UInt8](repeating: 0, count: 16), r)
                }
            case .metaSet(let key, let r):
                if key == .mark { packet.mark = load(r, 4).withUnsafeBytes { $0.load(as: UInt32.self) } }
            case .ct(let key, let r):
                // A new connection; `ct status dnat` once a NAT chain has DNATed it; the original
                // direction's destination is where the packet was sent before any DNAT.
                switch key {
                case .state: store(u32(NFTCTState.new.rawValue), r)
                case .status: store(u32(dnat == nil ? 0 : 1 << 5), r)
                case .originalDstIP, .originalDstIP6: store(original.daddr.bytes, r)
                case .originalProtoDst: store([UInt8(original.dport >> 8), UInt8(original.dport & 0xff)], r)
                case .replySrcIP, .replySrcIP6: store(packet.daddr.bytes, r)
                case .replyProtoSrc: store([UInt8(packet.dport >> 8), UInt8(packet.dport & 0xff)], r)
                }
            case .cmp(let op, let r, let value):
                let equal = load(r, value.bytes.count) == value.bytes
                switch op {
                case .eq: return equal
                case .neq: return !equal
                default: fatalError("cmp \(op) not traced")
                }
            case .bitwise(let from, let into, let mask, let xor):
                let v = load(from, mask.bytes.count)
                store((0..<v.count).map { (v[$0] & mask.bytes[$0]) ^ xor.bytes[$0] }, into)
            case .lookup(let set, let from, let into, let inverted):
                let found = lookup(set, from)
                if inverted { return found == nil }
                guard let found else { return false }
                if into == .verdict, case .verdict(let v)? = found.value { verdictRegister = v }
                else if let into, case .data(let d)? = found.value { store(d.bytes, into) }
            case .verdict(let v):
                verdictRegister = v
            case .immediate(let value, let r):
                store(value.bytes, r)
            case .numgen(_, let modulus, let off, let r):
                guard !choices.isEmpty else { throw Choice(modulus: Int(modulus)) }
                store(u32(UInt32(choices.removeFirst()) + off), r)
            case .nat(let type, _, let address, let port, _):
                precondition(type == .dnat, "snat not traced")
                let a = load(address!, packet.saddr.family == .ipv4 ? 4 : 16)
                let ip = a.count == 4 ? IPAddress(ipv4: UInt32(a[0]) << 24 | UInt32(a[1]) << 16 | UInt32(a[2]) << 8 | UInt32(a[3])) : IPAddress(ipv6Bytes: a)
                packet.daddr = ip
                if let port {
                    let pb = load(port, 2)
                    packet.dport = UInt16(pb[0]) << 8 | UInt16(pb[1])
                }
                dnat = "\(ip):\(packet.dport)"
                terminalResult = .accept
            case .redirect:
                fatalError("redirect is not in the backend's rules")
            case .masquerade:
                masqueraded = true
                terminalResult = .accept
            case .reject:
                terminalResult = .reject
            case .dynset(let op, let set, let key, let data, _):
                guard let map = tracer.ruleset.affinityMaps.first(where: { $0.name == set }), case .data(let valueType)? = map.mapping,
                      let data else { fatalError("dynset on \(set), which is not an affinity map") }
                let k = load(key, map.keyType.length)
                switch op {
                case .delete: affinity[set]?[k] = nil
                case .add, .update:
                    if affinity[set]?[k] == nil { affinity[set, default: [:]][k] = load(data, valueType.length) }
                    updates.append(set)
                }
            case .fib(let flags, _, let r):
                let address = flags & 2 != 0 ? packet.daddr : packet.saddr
                store(u32(tracer.localAddresses.contains(address) ? 2 : 1), r)  // RTN_LOCAL : RTN_UNICAST
            case .counter, .limit:
                break
            }
            return true
        }

        /// The element of `set` that the key in `from` matches.
        func lookup(_ set: NFTSetReference, _ from: NFTRegister) -> NFTSetElement? {
            let keyType: NFTDataType, elements: [NFTSetElement], interval: Bool
            switch set {
            case .anonymous(let a):
                keyType = a.keyType; elements = a.elements; interval = a.isInterval
            case .named(let name):
                if let s = (tracer.ruleset.sharedSets + tracer.ruleset.pickSets).first(where: { $0.name == name }) {
                    keyType = s.keyType; elements = tracer.ruleset.elements(of: name); interval = s.flags.contains(.interval)
                } else if let map = tracer.ruleset.affinityMaps.first(where: { $0.name == name }) {
                    let key = load(from, map.keyType.length)
                    return affinity[name]?[key].map { NFTSetElement(key: NFTValue(bytes: key), value: .data(NFTValue(bytes: $0))) }
                } else {
                    fatalError("no set \(name)")
                }
            }
            let key = load(from, keyType.length)
            for element in elements {
                if interval, let end = element.keyEnd {
                    if !key.lexicographicallyPrecedes(element.key.bytes) && !end.bytes.lexicographicallyPrecedes(key) { return element }
                } else if element.key.bytes == key {
                    return element
                }
            }
            return nil
        }
    }
}

extension Set where Element == NFTablesTracer.Outcome {
    static func dnat(_ dests: String..., masquerade: Bool = false, updates: [String] = []) -> Self {
        Set(dests.map { NFTablesTracer.Outcome(verdict: .accept, dnat: $0, masqueraded: masquerade, affinityUpdates: updates) })
    }
    static func verdict(_ v: NFTablesTracer.Verdict) -> Self { [NFTablesTracer.Outcome(verdict: v, dnat: nil, masqueraded: false)] }
}
