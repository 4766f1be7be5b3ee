/// The expressions a set was declared with, as `nft` records them for `typeof` sets:
/// `typeof numgen inc mod 3 : ip daddr . tcp dport`.
///
/// The kernel keeps only a key type number and length; a key such as numgen's plain integer has no
/// type name `nft` could print or read back, so `nft` stores the declaring expressions in the set's
/// userdata. Ours must be the same bytes, or `nft list` shows a map it cannot load again.
public indirect enum NFTTypeof: Sendable, Hashable, CustomStringConvertible {
    case numgen(NFTExpression.NumgenMode, modulus: UInt32)
    /// A header field, by nftables' protocol (`PROTO_DESC_*`) and field (`*HDR_*`) numbers.
    case payload(protocol: UInt32, field: UInt32, text: String)
    /// A meta key, by its `NFT_META_*` number.
    case meta(key: UInt32, text: String)
    case concat([NFTTypeof])

    public static let ipDaddr = NFTTypeof.payload(protocol: 12, field: 12, text: "ip daddr")    // PROTO_DESC_IPV4, IPHDR_DADDR
    public static let ip6Daddr = NFTTypeof.payload(protocol: 13, field: 9, text: "ip6 daddr")   // PROTO_DESC_IPV6, IP6HDR_DADDR

    /// `th dport`: the destination port of any transport header.
    public static let thDport = NFTTypeof.payload(protocol: 11, field: 2, text: "th dport")      // PROTO_DESC_TH, THDR_DPORT
    /// `meta l4proto` (`NFT_META_L4PROTO`).
    public static let l4proto = NFTTypeof.meta(key: 16, text: "meta l4proto")

    public var description: String {
        switch self {
        case .numgen(let mode, let modulus): "numgen \(mode.name) mod \(modulus)"
        case .payload(_, _, let text), .meta(_, let text): text
        case .concat(let parts): parts.map(\.description).joined(separator: " . ")
        }
    }

    /// nftables' `enum expr_types` number of the expression.
    private var expressionType: UInt32 {
        switch self {
        case .payload: 7    // EXPR_PAYLOAD
        case .meta: 9       // EXPR_META
        case .concat: 13    // EXPR_CONCAT
        case .numgen: 23    // EXPR_NUMGEN
        }
    }

    /// `NFTNL_UDATA_SET_TYPEOF_EXPR` then the nested `..._TYPEOF_DATA`, each expression's own TLVs.
    var userdata: [UInt8] {
        var data: [UInt8] = []
        switch self {
        case .numgen(let mode, let modulus):
            data = UserdataTLV.u32(0, mode.rawValue) + UserdataTLV.u32(1, modulus) + UserdataTLV.u32(2, 0)  // mode, modulus, offset
        case .payload(let proto, let field, _):
            data = UserdataTLV.u32(0, proto) + UserdataTLV.u32(1, field)
        case .meta(let key, _):
            data = UserdataTLV.u32(0, key)  // NFTNL_UDATA_META_KEY
        case .concat(let parts):
            for (i, part) in parts.enumerated() { data += UserdataTLV.nest(UInt8(i), part.userdata) }
        }
        return UserdataTLV.u32(0, expressionType) + UserdataTLV.nest(1, data)
    }
}

/// libnftnl's userdata TLVs: a type byte, a length byte, the value.
enum UserdataTLV {
    static func u32(_ type: UInt8, _ value: UInt32) -> [UInt8] {
        [type, 4] + withUnsafeBytes(of: value) { Array($0) }
    }

    static func nest(_ type: UInt8, _ bytes: [UInt8]) -> [UInt8] {
        precondition(bytes.count < 256, "userdata TLVs are at most 255 bytes")
        return [type, UInt8(bytes.count)] + bytes
    }
}
