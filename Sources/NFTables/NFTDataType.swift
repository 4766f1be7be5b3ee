/// The type of a set key or map value, as `nft` names it: `ipv4_addr`, `inet_service`, or a
/// concatenation such as `ipv4_addr . inet_proto . inet_service`.
///
/// The kernel stores only a number and a length; `nft list` turns the number back into these names,
/// so both must be the ones `nft` itself registers (nftables `datatype.h`).
public struct NFTDataType: Sendable, Hashable, CustomStringConvertible {
    /// One component of a (possibly concatenated) type.
    public enum Basic: Sendable, Hashable {
        case ipv4Addr, ipv6Addr, inetProto, inetService, mark, ifname, verdict
        /// `integer`, `bytes` long, host byte order (the keys of a `numgen ... vmap`).
        case integer(bytes: Int)

        /// nftables' `TYPE_*` number.
        var typeID: UInt32 {
            switch self {
            case .verdict: 1
            case .integer: 4
            case .ipv4Addr: 7
            case .ipv6Addr: 8
            case .inetProto: 12
            case .inetService: 13
            case .mark: 19
            case .ifname: 41
            }
        }

        /// Length of one value in bytes.
        var length: Int {
            switch self {
            case .ipv4Addr, .mark: 4
            case .ipv6Addr, .ifname: 16
            case .inetProto: 1
            case .inetService: 2
            case .verdict: 0
            case .integer(let bytes): bytes
            }
        }

        /// nftables' `enum byteorder`: 1 host, 2 network (big endian).
        var byteOrder: UInt32 {
            switch self {
            case .ipv4Addr, .ipv6Addr, .inetService: 2
            case .inetProto, .mark, .ifname, .integer, .verdict: 1
            }
        }

        var name: String {
            switch self {
            case .ipv4Addr: "ipv4_addr"
            case .ipv6Addr: "ipv6_addr"
            case .inetProto: "inet_proto"
            case .inetService: "inet_service"
            case .mark: "mark"
            case .ifname: "ifname"
            case .verdict: "verdict"
            case .integer: "integer"
            }
        }
    }

    public let components: [Basic]

    public init(_ components: [Basic]) {
        precondition(!components.isEmpty, "a data type has at least one component")
        self.components = components
    }

    public static let ipv4Addr = NFTDataType([.ipv4Addr])
    public static let ipv6Addr = NFTDataType([.ipv6Addr])
    public static let inetProto = NFTDataType([.inetProto])
    public static let inetService = NFTDataType([.inetService])
    public static let mark = NFTDataType([.mark])
    public static let ifname = NFTDataType([.ifname])
    public static func integer(bytes: Int) -> NFTDataType { NFTDataType([.integer(bytes: bytes)]) }

    /// `a . b . c`: a concatenation of the given types.
    public static func concat(_ parts: NFTDataType...) -> NFTDataType {
        NFTDataType(parts.flatMap(\.components))
    }

    public var isConcatenation: Bool { components.count > 1 }

    /// The number `nft` stores: each component's id shifted in 6 bits at a time
    /// (`concat_subtype_add`), so `ipv4_addr . inet_proto . inet_service` is 0x730d.
    public var typeID: UInt32 {
        components.reduce(0) { ($0 << 6) | $1.typeID }
    }

    /// Key length: a concatenation pads each component to a 32-bit register.
    public var length: Int {
        // Without the array of `fieldLengths`: every element check of a full sync asks.
        isConcatenation ? components.reduce(0) { $0 + NFTDataType.padded($1.length) } : components[0].length
    }

    /// Unpadded length of each component (`NFTA_SET_DESC_CONCAT` for interval concatenations).
    public var fieldLengths: [Int] { components.map(\.length) }

    /// The byte order `nft` records in the set's userdata (0 for a concatenation).
    var byteOrder: UInt32 { isConcatenation ? 0 : components[0].byteOrder }

    public var description: String { components.map(\.name).joined(separator: " . ") }

    static func padded(_ length: Int) -> Int { (length + 3) & ~3 }
}
