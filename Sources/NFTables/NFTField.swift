/// A packet or metadata field that a rule can load and match: the left-hand side of `ip daddr 10.0.0.1`.
public enum NFTField: Sendable, Hashable, CustomStringConvertible {
    case ipSaddr, ipDaddr, ip6Saddr, ip6Daddr
    /// `th sport` / `th dport`: the transport header's ports, whatever the protocol.
    case thSport, thDport
    case l4proto, nfproto, iifname, oifname, mark
    case ctState

    /// Bytes the field occupies in a register.
    public var length: Int {
        switch self {
        case .ipSaddr, .ipDaddr, .mark, .ctState: 4
        case .ip6Saddr, .ip6Daddr, .iifname, .oifname: 16
        case .thSport, .thDport: 2
        case .l4proto, .nfproto: 1
        }
    }

    /// The set key type that holds values of this field.
    public var dataType: NFTDataType {
        switch self {
        case .ipSaddr, .ipDaddr: .ipv4Addr
        case .ip6Saddr, .ip6Daddr: .ipv6Addr
        case .thSport, .thDport: .inetService
        case .l4proto: .inetProto
        case .iifname, .oifname: .ifname
        case .mark: .mark
        case .nfproto: .integer(bytes: 1)
        case .ctState: .integer(bytes: 4)
        }
    }

    /// The expression that loads the field into `register`.
    public func load(into register: NFTRegister = .r1) -> NFTExpression {
        switch self {
        case .ipSaddr: .payload(base: .network, offset: 12, length: 4, into: register)
        case .ipDaddr: .payload(base: .network, offset: 16, length: 4, into: register)
        case .ip6Saddr: .payload(base: .network, offset: 8, length: 16, into: register)
        case .ip6Daddr: .payload(base: .network, offset: 24, length: 16, into: register)
        case .thSport: .payload(base: .transport, offset: 0, length: 2, into: register)
        case .thDport: .payload(base: .transport, offset: 2, length: 2, into: register)
        case .l4proto: .meta(.l4proto, into: register)
        case .nfproto: .meta(.nfproto, into: register)
        case .iifname: .meta(.iifname, into: register)
        case .oifname: .meta(.oifname, into: register)
        case .mark: .meta(.mark, into: register)
        case .ctState: .ct(.state, into: register)
        }
    }

    /// The expressions that load `fields` as one concatenated key starting at `r1`, one 32-bit
    /// aligned slot per field, in the registers `nft` uses.
    public static func loadConcatenation(_ fields: [NFTField]) -> [NFTExpression] {
        var words = 0
        return fields.map { field in
            defer { words += NFTDataType.padded(field.length) / 4 }
            return field.load(into: .word(words))
        }
    }

    /// `ip daddr`, as `nft` writes it.
    public var description: String {
        switch self {
        case .ipSaddr: "ip saddr"
        case .ipDaddr: "ip daddr"
        case .ip6Saddr: "ip6 saddr"
        case .ip6Daddr: "ip6 daddr"
        case .thSport: "th sport"
        case .thDport: "th dport"
        case .l4proto: "meta l4proto"
        case .nfproto: "meta nfproto"
        case .iifname: "iifname"
        case .oifname: "oifname"
        case .mark: "meta mark"
        case .ctState: "ct state"
        }
    }
}

/// Connection-tracking states, for `ct state new,established`.
public struct NFTCTState: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let invalid = NFTCTState(rawValue: 1)
    public static let established = NFTCTState(rawValue: 2)
    public static let related = NFTCTState(rawValue: 4)
    public static let new = NFTCTState(rawValue: 8)
    public static let untracked = NFTCTState(rawValue: 64)
}
