/// One statement of a rule in `nft` terms (`ip daddr 10.0.0.1`, `vmap @services`, `dnat to ...`),
/// expanded into the kernel expressions `nft` would emit for it, together with its `nft` text.
public struct NFTStatement: Sendable, Hashable, CustomStringConvertible {
    public var expressions: [NFTExpression]
    /// The statement as `nft` writes it; used in error messages.
    public var description: String

    public init(_ expressions: [NFTExpression], description: String) {
        self.expressions = expressions
        self.description = description
    }

    // MARK: Matches

    /// `FIELD [!=] VALUE`: `.match(.ipDaddr, NFTValue(ipv4: "10.96.0.1")!)`,
    /// `.match(.l4proto, .proto(.tcp))`, `.match(.thDport, .port(80))`.
    public static func match(_ field: NFTField, _ value: NFTValue) -> NFTStatement {
        match(field, .eq, value)
    }

    /// `FIELD OP VALUE` with any comparison: `.match(.thDport, .neq, .port(22))`.
    public static func match(_ field: NFTField, _ op: NFTExpression.CmpOp, _ value: NFTValue) -> NFTStatement {
        NFTStatement([field.load(), .cmp(op, .r1, value)], description: "\(field) \(op.symbol)\(value)")
    }

    /// `FIELD [!=] PREFIX`: `ip saddr 10.0.0.0/8`. Loads only the bytes the prefix covers and masks
    /// a partial byte, as `nft` does.
    public static func match(_ field: NFTField, negated: Bool = false, prefix: NFTPrefix) -> NFTStatement {
        let op: NFTExpression.CmpOp = negated ? .neq : .eq
        // Like nft: a byte-aligned prefix loads only the bytes it covers; any other prefix loads
        // the whole field and masks it.
        let aligned = prefix.length % 8 == 0
        let bytes = aligned ? prefix.length / 8 : field.length
        let network = NFTValue(bytes: Array(prefix.address.bytes.prefix(bytes)))
        var expressions: [NFTExpression]
        if case .payload(let base, let offset, _, let register) = field.load(), bytes < field.length {
            expressions = [.payload(base: base, offset: offset, length: UInt32(bytes), into: register)]
        } else {
            expressions = [field.load()]
        }
        if !aligned {
            let mask = NFTValue(bytes: NFTPrefix.mask(length: prefix.length, bytes: bytes))
            expressions.append(.bitwise(from: .r1, into: .r1, mask: mask, xor: NFTValue(bytes: Array(repeating: 0, count: bytes))))
        }
        expressions.append(.cmp(op, .r1, network))
        return NFTStatement(expressions, description: "\(field) \(op.symbol)\(prefix)")
    }

    /// `ct state STATES` (or `ct state != STATES`): at least one of the bits is (not) set.
    public static func ctState(_ states: NFTCTState, negated: Bool = false) -> NFTStatement {
        NFTStatement([
            .ct(.state, into: .r1),
            .bitwise(from: .r1, into: .r1, mask: .integer(states.rawValue), xor: .integer(0)),
            .cmp(negated ? .eq : .neq, .r1, .integer(0)),
        ], description: "ct state \(negated ? "!= " : "")\(states.names)")
    }

    /// `ct status dnat` (`ct status & dnat == 0` when `isSet` is false): the connection's
    /// destination was rewritten, by a DNAT or a redirect (`IPS_DST_NAT`).
    public static func ctStatusDNAT(isSet: Bool = true) -> NFTStatement {
        let dstNAT: UInt32 = 1 << 5
        return NFTStatement([
            .ct(.status, into: .r1),
            .bitwise(from: .r1, into: .r1, mask: .integer(dstNAT), xor: .integer(0)),
            .cmp(isSet ? .neq : .eq, .r1, .integer(0)),
        ], description: isSet ? "ct status dnat" : "ct status & dnat == 0")
    }

    /// `meta mark & MASK != 0` (or `== 0` when `isSet` is false).
    public static func mark(hasBits mask: UInt32, isSet: Bool = true) -> NFTStatement {
        NFTStatement([
            .meta(.mark, into: .r1),
            .bitwise(from: .r1, into: .r1, mask: .mark(mask), xor: .mark(0)),
            .cmp(isSet ? .neq : .eq, .r1, .mark(0)),
        ], description: "meta mark & \(hex(mask)) \(isSet ? "!=" : "==") 0")
    }

    /// `fib daddr type local` (`!= local` when negated): the destination is one of this host's addresses.
    public static func fibDaddrTypeLocal(negated: Bool = false) -> NFTStatement {
        // NFTA_FIB_F_DADDR = 2, NFT_FIB_RESULT_ADDRTYPE = 3, RTN_LOCAL = 2.
        NFTStatement([.fib(flags: 2, result: 3, into: .r1), .cmp(negated ? .neq : .eq, .r1, .integer(2))],
                     description: "fib daddr type \(negated ? "!= " : "")local")
    }

    /// `FIELDS [!=] @SET`: `.lookup([.ipDaddr, .l4proto, .thDport], set: "no-endpoint-services")`.
    public static func lookup(_ fields: [NFTField], set: String, negated: Bool = false) -> NFTStatement {
        NFTStatement(NFTField.loadConcatenation(fields) + [.lookup(.named(set), from: .r1, into: nil, inverted: negated)],
                     description: "\(fields.nftText) \(negated ? "!= " : "")@\(set)")
    }

    /// `FIELD [!=] { PREFIX, PREFIX, ... }` with an anonymous interval set: kube-proxy's
    /// `ip saddr != { 203.0.113.0/25 } drop` for `loadBalancerSourceRanges`.
    public static func match(_ field: NFTField, negated: Bool = false, anyOf prefixes: [NFTPrefix]) -> NFTStatement {
        let set = NFTAnonymousSet(keyType: field.dataType, elements: prefixes.map(NFTSetElement.prefix), isInterval: true)
        return NFTStatement([field.load(), .lookup(.anonymous(set), from: .r1, into: nil, inverted: negated)],
                            description: "\(field) \(negated ? "!= " : ""){ \(prefixes.map(\.description).joined(separator: ", ")) }")
    }

    /// `FIELDS vmap @MAP`: `.lookup([.ipDaddr, .l4proto, .thDport], vmap: "service-ips")`.
    public static func lookup(_ fields: [NFTField], vmap: String) -> NFTStatement {
        NFTStatement(NFTField.loadConcatenation(fields) + [.lookup(.named(vmap), from: .r1, into: .verdict, inverted: false)],
                     description: "\(fields.nftText) vmap @\(vmap)")
    }

    /// `FIELDS map @MAP` loading the mapped value into `register` (for raw expressions that use it).
    public static func lookup(_ fields: [NFTField], map: String, into register: NFTRegister) -> NFTStatement {
        NFTStatement(NFTField.loadConcatenation(fields) + [.lookup(.named(map), from: .r1, into: register, inverted: false)],
                     description: "\(fields.nftText) map @\(map)")
    }

    // MARK: Load balancing

    /// `numgen random|inc mod N vmap { 0 : V0, 1 : V1, ... }` with an anonymous verdict map, one
    /// element per verdict: kube-proxy's endpoint choice.
    public static func numgen(_ mode: NFTExpression.NumgenMode, vmap verdicts: [NFTVerdict]) -> NFTStatement {
        let elements = verdicts.enumerated().map { NFTSetElement.verdict(.integer(UInt32($0.offset)), $0.element) }
        let set = NFTAnonymousSet(keyType: .integer(bytes: 4), mapping: .verdict, elements: elements)
        let listed = verdicts.enumerated().map { "\($0.offset) : \($0.element)" }.joined(separator: ", ")
        return NFTStatement([
            .numgen(mode, modulus: UInt32(verdicts.count), offset: 0, into: .r1),
            .lookup(.anonymous(set), from: .r1, into: .verdict, inverted: false),
        ], description: "numgen \(mode.name) mod \(verdicts.count) vmap { \(listed) }")
    }

    /// `numgen random|inc mod N vmap @MAP` with a named map keyed by `integer`.
    public static func numgen(_ mode: NFTExpression.NumgenMode, modulus: UInt32, vmap: String) -> NFTStatement {
        NFTStatement([
            .numgen(mode, modulus: modulus, offset: 0, into: .r1),
            .lookup(.named(vmap), from: .r1, into: .verdict, inverted: false),
        ], description: "numgen \(mode.name) mod \(modulus) vmap @\(vmap)")
    }

    // MARK: Actions

    /// `accept`, `drop`, `return`, `jump CHAIN`, `goto CHAIN`.
    public static func verdict(_ verdict: NFTVerdict) -> NFTStatement {
        NFTStatement([.verdict(verdict)], description: verdict.description)
    }

    public static let accept = verdict(.accept)
    public static let drop = verdict(.drop)
    public static let `return` = verdict(.return)
    public static func jump(_ chain: String) -> NFTStatement { verdict(.jump(chain)) }
    public static func goto(_ chain: String) -> NFTStatement { verdict(.goto(chain)) }

    /// `counter`.
    public static let counter = NFTStatement([.counter], description: "counter")

    /// `meta mark set meta mark | BITS`.
    public static func setMark(orBits bits: UInt32) -> NFTStatement {
        NFTStatement([
            .meta(.mark, into: .r1),
            .bitwise(from: .r1, into: .r1, mask: .mark(~bits), xor: .mark(bits)),
            .metaSet(.mark, from: .r1),
        ], description: "meta mark set meta mark | \(hex(bits))")
    }

    /// `meta mark set VALUE`.
    public static func setMark(_ value: UInt32) -> NFTStatement {
        NFTStatement([.immediate(.mark(value), into: .r1), .metaSet(.mark, from: .r1)], description: "meta mark set \(hex(value))")
    }

    /// `meta mark set meta mark xor BITS` — clears bits that are known to be set.
    public static func setMark(xorBits bits: UInt32) -> NFTStatement {
        NFTStatement([
            .meta(.mark, into: .r1),
            .bitwise(from: .r1, into: .r1, mask: .mark(0xffff_ffff), xor: .mark(bits)),
            .metaSet(.mark, from: .r1),
        ], description: "meta mark set meta mark xor \(hex(bits))")
    }

    /// `dnat [ip|ip6] to ADDRESS[:PORT]`. `family` is the table's family; in an `inet` table pass the
    /// address family (`.ip` or `.ip6`) explicitly.
    public static func dnat(to address: NFTValue, port: UInt16? = nil, family: NFTFamily? = nil) -> NFTStatement {
        nat(.dnat, address: address, port: port, family: family)
    }

    /// `snat [ip|ip6] to ADDRESS[:PORT]`.
    public static func snat(to address: NFTValue, port: UInt16? = nil, family: NFTFamily? = nil) -> NFTStatement {
        nat(.snat, address: address, port: port, family: family)
    }

    private static func nat(_ type: NFTExpression.NATType, address: NFTValue, port: UInt16?, family: NFTFamily?) -> NFTStatement {
        let natFamily = family ?? (address.bytes.count == 16 ? .ip6 : .ip)
        var expressions: [NFTExpression] = [.immediate(address, into: .r1)]
        if let port { expressions.append(.immediate(.port(port), into: .r2)) }
        // NF_NAT_RANGE_PROTO_SPECIFIED (2) when a port is given; nft sends no flags otherwise.
        expressions.append(.nat(type, family: natFamily, address: .r1, port: port == nil ? nil : .r2, flags: port == nil ? 0 : 2))
        let text = address.bytes.count == 16 ? "[\(address.addressText)]" : address.addressText
        return NFTStatement(expressions, description: "\(type.name) \(natFamily.rawValue) to \(text)\(port.map { ":\($0)" } ?? "")")
    }

    /// `masquerade [fully-random]`.
    public static func masquerade(fullyRandom: Bool = false) -> NFTStatement {
        // NF_NAT_RANGE_PROTO_RANDOM_FULLY = 0x10.
        NFTStatement([.masquerade(flags: fullyRandom ? 0x10 : 0)], description: fullyRandom ? "masquerade fully-random" : "masquerade")
    }

    /// `reject with ...`.
    public static func reject(_ with: NFTReject = .icmp(.portUnreachable)) -> NFTStatement {
        switch with {
        case .tcpReset: NFTStatement([.reject(type: 1, code: 0)], description: "reject with tcp reset")
        case .icmp(let code): NFTStatement([.reject(type: 0, code: code.rawValue)], description: "reject with icmp \(code)")
        case .icmpv6(let code): NFTStatement([.reject(type: 0, code: code.rawValue)], description: "reject with icmpv6 \(code)")
        case .icmpx(let code): NFTStatement([.reject(type: 2, code: code.rawValue)], description: "reject with icmpx \(code)")
        }
    }

    /// `add|update @SET { FIELDS timeout T }`: remember the packet's key in a dynamic set (ClientIP
    /// affinity: `.dynset(.update, set: "affinity-x", key: [.ipSaddr], timeout: .seconds(10800))`).
    public static func dynset(_ op: NFTExpression.DynsetOp, set: String, key fields: [NFTField], timeout: Duration? = nil) -> NFTStatement {
        let timeoutText = timeout.map { " timeout \($0.milliseconds / 1000)s" } ?? ""
        return NFTStatement(NFTField.loadConcatenation(fields) + [.dynset(op, set: set, key: .r1, data: nil, timeout: timeout)],
                            description: "\(op.name) @\(set) { \(fields.nftText)\(timeoutText) }")
    }

    /// `limit rate [over] N/second burst B packets`.
    public static func limit(packetsPerSecond rate: UInt64, burst: UInt32 = 5, over: Bool = false) -> NFTStatement {
        NFTStatement([.limit(rate: rate, perSeconds: 1, burst: burst, inverted: over)],
                     description: "limit rate \(over ? "over " : "")\(rate)/second burst \(burst) packets")
    }

    /// Raw expressions, for anything the constructors above do not cover.
    public static func expressions(_ expressions: [NFTExpression], description: String) -> NFTStatement {
        NFTStatement(expressions, description: description)
    }
}

extension NFTExpression.CmpOp {
    var symbol: String {
        switch self {
        case .eq: ""
        case .neq: "!= "
        case .lt: "< "
        case .lte: "<= "
        case .gt: "> "
        case .gte: ">= "
        }
    }
}

extension NFTExpression.NumgenMode {
    var name: String { self == .inc ? "inc" : "random" }
}

extension NFTExpression.NATType {
    var name: String { self == .dnat ? "dnat" : "snat" }
}

extension NFTExpression.DynsetOp {
    var name: String {
        switch self {
        case .add: "add"
        case .update: "update"
        case .delete: "delete"
        }
    }
}

extension NFTCTState {
    var names: String {
        let all: [(NFTCTState, String)] = [(.invalid, "invalid"), (.established, "established"), (.related, "related"), (.new, "new"), (.untracked, "untracked")]
        return all.filter { contains($0.0) }.map(\.1).joined(separator: ",")
    }
}

extension Array where Element == NFTField {
    var nftText: String { map(\.description).joined(separator: " . ") }
}

extension Duration {
    /// Whole milliseconds, as the kernel counts set timeouts.
    var milliseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(0, seconds)) * 1000 + UInt64(max(0, attoseconds)) / 1_000_000_000_000_000
    }
}

extension NFTValue {
    /// The value as an address in text form (for statement descriptions).
    var addressText: String {
        // Dotted quads directly: rendering 100k DNAT rules should not go through inet_ntop.
        if bytes.count == 4 { return "\(bytes[0]).\(bytes[1]).\(bytes[2]).\(bytes[3])" }
        guard bytes.count == 16 else { return description }
        return NFTPrefix(bytes: bytes)?.description.split(separator: "/").first.map(String.init) ?? description
    }
}

func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
