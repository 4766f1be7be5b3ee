/// One kernel expression of a rule, exactly as `nft --debug=netlink` lists them
/// (`[ payload load 4b @ network header + 16 => reg 1 ]`).
///
/// Most callers build rules from `NFTStatement`s, which expand into these the way `nft` does.
public enum NFTExpression: Sendable, Hashable {
    /// `payload load LEN @ BASE + OFFSET => reg`.
    case payload(base: PayloadBase, offset: UInt32, length: UInt32, into: NFTRegister)
    /// `meta load KEY => reg`.
    case meta(MetaKey, into: NFTRegister)
    /// `meta set KEY with reg`.
    case metaSet(MetaKey, from: NFTRegister)
    /// `ct load KEY => reg`.
    case ct(CTKey, into: NFTRegister)
    /// `cmp OP reg DATA`.
    case cmp(CmpOp, NFTRegister, NFTValue)
    /// `bitwise reg = (reg & mask) ^ xor`.
    case bitwise(from: NFTRegister, into: NFTRegister, mask: NFTValue, xor: NFTValue)
    /// `lookup reg set NAME [dreg D] [0x1 = inverted]`; `into: .verdict` for a verdict map.
    case lookup(NFTSetReference, from: NFTRegister, into: NFTRegister?, inverted: Bool)
    /// `immediate reg 0 VERDICT`.
    case verdict(NFTVerdict)
    /// `immediate reg DATA`.
    case immediate(NFTValue, into: NFTRegister)
    /// `numgen reg = inc|random mod N [offset O]`.
    case numgen(NumgenMode, modulus: UInt32, offset: UInt32, into: NFTRegister)
    /// `nat dnat|snat FAMILY addr_min reg [proto_min reg] [flags]`.
    case nat(NATType, family: NFTFamily, address: NFTRegister?, port: NFTRegister?, flags: UInt32)
    /// `masq [flags]`.
    case masquerade(flags: UInt32)
    /// `redir [proto_min reg] [flags]`: DNAT to the incoming interface's primary address (or
    /// 127.0.0.1 for locally generated packets), port from the register.
    case redirect(port: NFTRegister?, flags: UInt32)
    /// `counter`.
    case counter
    /// `reject type T code C`.
    case reject(type: UInt32, code: UInt8)
    /// `dynset add|update|delete reg_key K set NAME [sreg_data D] [timeout]`; a map needs `data`,
    /// the register its value is taken from (the kernel wants it even to delete).
    case dynset(DynsetOp, set: String, key: NFTRegister, data: NFTRegister?, timeout: Duration?)
    /// `fib FLAGS RESULT => reg`.
    case fib(flags: UInt32, result: UInt32, into: NFTRegister)
    /// `limit rate R/UNIT burst B type packets [inverted]`.
    case limit(rate: UInt64, perSeconds: UInt64, burst: UInt32, inverted: Bool)

    public enum PayloadBase: UInt32, Sendable, Hashable {
        case link = 0, network = 1, transport = 2
    }

    /// `NFT_META_*`.
    public enum MetaKey: UInt32, Sendable, Hashable {
        case mark = 3, iifname = 6, oifname = 7, nfproto = 15, l4proto = 16
    }

    /// `NFT_CT_*`. The `original…` keys read the connection's original direction (`ct original
    /// proto-dst`, `ct original ip daddr`): where a DNATed packet was first sent; the `reply…` keys
    /// the reply direction's source (`ct reply ip saddr`, `ct reply proto-src`): where it was DNATed to.
    public enum CTKey: UInt32, Sendable, Hashable {
        case state = 0, status = 2
        case replyProtoSrc = 11, originalProtoDst = 12, replySrcIP = 19, originalDstIP = 20, replySrcIP6 = 21, originalDstIP6 = 22

        /// `NFTA_CT_DIRECTION` for the keys that need one (0: original, 1: reply).
        var direction: UInt8? {
            switch self {
            case .state, .status: nil
            case .originalProtoDst, .originalDstIP, .originalDstIP6: 0
            case .replyProtoSrc, .replySrcIP, .replySrcIP6: 1
            }
        }
    }

    /// `NFT_CMP_*`.
    public enum CmpOp: UInt32, Sendable, Hashable {
        case eq = 0, neq = 1, lt = 2, lte = 3, gt = 4, gte = 5
    }

    /// `NFT_NG_*`.
    public enum NumgenMode: UInt32, Sendable, Hashable {
        case inc = 0, random = 1
    }

    /// `NFT_NAT_*`.
    public enum NATType: UInt32, Sendable, Hashable {
        case snat = 0, dnat = 1
    }

    /// `NFT_DYNSET_OP_*`.
    public enum DynsetOp: UInt32, Sendable, Hashable {
        case add = 0, update = 1, delete = 2
    }

    /// The libnftnl name of the expression (`nftnl_expr_alloc`).
    var kind: String {
        switch self {
        case .payload: "payload"
        case .meta, .metaSet: "meta"
        case .ct: "ct"
        case .cmp: "cmp"
        case .bitwise: "bitwise"
        case .lookup: "lookup"
        case .verdict, .immediate: "immediate"
        case .numgen: "numgen"
        case .nat: "nat"
        case .masquerade: "masq"
        case .redirect: "redir"
        case .counter: "counter"
        case .reject: "reject"
        case .dynset: "dynset"
        case .fib: "fib"
        case .limit: "limit"
        }
    }
}

/// A kernel register. `verdict` is register 0; `r1`...`r4` are the 16-byte registers; 32-bit registers
/// 8...23 overlay them and are used for the parts of a concatenation.
public struct NFTRegister: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let verdict = NFTRegister(rawValue: 0)
    public static let r1 = NFTRegister(rawValue: 1)
    public static let r2 = NFTRegister(rawValue: 2)
    public static let r3 = NFTRegister(rawValue: 3)
    public static let r4 = NFTRegister(rawValue: 4)

    /// The register that starts `words` 32-bit words after the start of `r1`, named the way `nft`
    /// names it: a 16-byte register when it is aligned to one, otherwise the 32-bit register
    /// (`ip daddr . meta l4proto . th dport` loads into regs 1, 9 and 10).
    public static func word(_ words: Int) -> NFTRegister {
        words % 4 == 0 ? NFTRegister(rawValue: 1 + UInt32(words / 4)) : NFTRegister(rawValue: 8 + UInt32(words))
    }

    public var description: String { "reg \(rawValue)" }
}

/// The set a lookup uses: one of ours by name, or an anonymous set that is created with the rule
/// (`numgen random mod 2 vmap { 0 : goto a, 1 : goto b }`).
public enum NFTSetReference: Sendable, Hashable {
    case named(String)
    case anonymous(NFTAnonymousSet)
}

/// A constant set that lives and dies with the rule that uses it.
public struct NFTAnonymousSet: Sendable, Hashable {
    public var keyType: NFTDataType
    public var mapping: NFTSet.Mapping?
    public var elements: [NFTSetElement]
    /// Whether elements are ranges (`{ 10.0.0.0/8, 192.168.0.0/16 }`).
    public var isInterval: Bool

    public init(keyType: NFTDataType, mapping: NFTSet.Mapping? = nil, elements: [NFTSetElement], isInterval: Bool = false) {
        self.keyType = keyType
        self.mapping = mapping
        self.elements = elements
        self.isInterval = isInterval
    }
}
