/// A named set, or (with `mapping`) a map, in one of our tables.
///
/// `nft` calls a map whose values are verdicts a verdict map (`vmap`); kube-proxy's
/// `service-ips` is `NFTSet.map("service-ips", in: table, key: .concat(.ipv4Addr, .inetProto, .inetService), to: .verdict)`.
public struct NFTSet: Sendable, Hashable {
    public var table: NFTTable
    public var name: String
    public var keyType: NFTDataType
    public var mapping: Mapping?
    public var flags: Flags
    /// Default lifetime of elements (needs `.timeout`).
    public var timeout: Duration?
    public var comment: String?
    /// For a `typeof` set: the expressions of its key and (for a map) of its values.
    public var keyTypeof: NFTTypeof?
    public var dataTypeof: NFTTypeof?
    /// The most elements the set may hold (`size N`, `NFTA_SET_DESC_SIZE`). With it the kernel
    /// picks a hash of fixed buckets, allocated once, instead of one that doubles while a batch
    /// fills it; an element add past it fails with ENFILE and fails the whole batch.
    public var size: Int?

    public init(
        table: NFTTable, name: String, keyType: NFTDataType, mapping: Mapping? = nil,
        flags: Flags = [], timeout: Duration? = nil, comment: String? = nil
    ) {
        self.table = table
        self.name = name
        self.keyType = keyType
        self.mapping = mapping
        self.flags = flags
        self.timeout = timeout
        self.comment = comment
    }

    /// A set: `set NAME { type KEY; flags ...; }`.
    public static func set(
        _ name: String, in table: NFTTable, key: NFTDataType, flags: Flags = [], timeout: Duration? = nil,
        comment: String? = nil
    ) -> NFTSet {
        NFTSet(table: table, name: name, keyType: key, flags: flags, timeout: timeout, comment: comment)
    }

    /// A map: `map NAME { type KEY : VALUE; }`.
    public static func map(
        _ name: String, in table: NFTTable, key: NFTDataType, to mapping: Mapping, flags: Flags = [],
        comment: String? = nil
    ) -> NFTSet {
        NFTSet(table: table, name: name, keyType: key, mapping: mapping, flags: flags, comment: comment)
    }

    /// A data map declared by expressions: `map NAME { typeof KEY : VALUE; }`. `key` and `value`
    /// give what the kernel stores (numgen's key is `.integer(bytes: 4)`).
    public static func map(
        _ name: String, in table: NFTTable, typeof keyExpression: NFTTypeof, key: NFTDataType,
        to valueExpression: NFTTypeof, value: NFTDataType, comment: String? = nil
    ) -> NFTSet {
        var set = NFTSet(table: table, name: name, keyType: key, mapping: .data(value), comment: comment)
        set.keyTypeof = keyExpression
        set.dataTypeof = valueExpression
        return set
    }

    public var isMap: Bool { mapping != nil }

    /// What a map maps to.
    public enum Mapping: Sendable, Hashable {
        /// A verdict map: lookups jump, goto, accept, drop, ...
        case verdict
        /// A data map: lookups load a value of this type into a register.
        case data(NFTDataType)
    }

    /// `flags interval, timeout, dynamic` (and `constant`).
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let constant = Flags(rawValue: 0x2)
        public static let interval = Flags(rawValue: 0x4)
        public static let timeout = Flags(rawValue: 0x10)
        /// Elements may be added from the packet path (`add @set` / `update @set`).
        public static let dynamic = Flags(rawValue: 0x20)
    }

    /// The `NFT_SET_*` flags sent to the kernel, including the ones implied by the shape.
    var kernelFlags: UInt32 {
        var value = flags.rawValue
        if isMap { value |= 0x8 }  // NFT_SET_MAP
        if flags.contains(.interval) && keyType.isConcatenation { value |= 0x80 }  // NFT_SET_CONCAT
        return value
    }

    /// `ipv4_addr . inet_proto . inet_service : verdict`, as `nft list` prints the type.
    public var typeDescription: String {
        if let keyTypeof {
            return "typeof \(keyTypeof)" + (dataTypeof.map { " : \($0)" } ?? "")
        }
        return switch mapping {
        case nil: keyType.description
        case .verdict: "\(keyType) : verdict"
        case .data(let type): "\(keyType) : \(type)"
        }
    }
}

/// `NFTMap` is an `NFTSet` with a `mapping`; the kernel does not tell them apart either.
public typealias NFTMap = NFTSet

/// One element of a set or map.
///
/// Kept small (72 bytes, no heap of its own for IPv4 keys): the applied model holds two copies of
/// each of a million elements at 100,000 Services. The rare parts (a range's end, a timeout) sit
/// in one shared box, nil for almost every element.
public struct NFTSetElement: Sendable, Hashable {
    public var key: NFTValue
    public var value: Value?
    /// Shown by `nft list` after the key (`172.30.0.41 . tcp . 80 comment "ns/web:http" : goto ...`).
    public var comment: String?
    // Internal and inlinable (with the initializer): the renderer makes a million elements, and a
    // call across the module boundary copied each one once more.
    @usableFromInline var rare: Rare?

    /// The last value of a range, inclusive (interval sets). The encoder turns it into what the
    /// kernel wants: an "interval end" element one past it, or `NFTA_SET_ELEM_KEY_END` for a
    /// concatenation.
    public var keyEnd: NFTValue? {
        get { rare?.keyEnd }
        set { rare = Rare.make(keyEnd: newValue, timeout: timeout) }
    }

    public var timeout: Duration? {
        get { rare?.timeout }
        set { rare = Rare.make(keyEnd: keyEnd, timeout: newValue) }
    }

    @inlinable
    public init(key: NFTValue, keyEnd: NFTValue? = nil, value: Value? = nil, timeout: Duration? = nil, comment: String? = nil) {
        self.key = key
        self.value = value
        self.comment = comment
        rare = keyEnd == nil && timeout == nil ? nil : Rare(keyEnd: keyEnd, timeout: timeout)
    }

    /// Immutable, so copies share it safely; a change makes a new one.
    @usableFromInline
    final class Rare: Sendable {
        let keyEnd: NFTValue?
        let timeout: Duration?

        @usableFromInline
        init(keyEnd: NFTValue?, timeout: Duration?) {
            self.keyEnd = keyEnd
            self.timeout = timeout
        }

        static func make(keyEnd: NFTValue?, timeout: Duration?) -> Rare? {
            keyEnd == nil && timeout == nil ? nil : Rare(keyEnd: keyEnd, timeout: timeout)
        }
    }

    public static func == (a: NFTSetElement, b: NFTSetElement) -> Bool {
        a.key == b.key && a.value == b.value && a.comment == b.comment && a.keyEnd == b.keyEnd && a.timeout == b.timeout
    }

    /// The key only: elements of one set differ by key, and equal elements have equal keys.
    public func hash(into hasher: inout Hasher) { hasher.combine(key) }

    /// A verdict-map element: `key : verdict`.
    @inlinable
    public static func verdict(_ key: NFTValue, _ verdict: NFTVerdict, comment: String? = nil) -> NFTSetElement {
        NFTSetElement(key: key, value: .verdict(verdict), comment: comment)
    }

    /// The element userdata `nft` writes for a comment (`NFTNL_UDATA_SET_ELEM_COMMENT`, type 0).
    var userdata: [UInt8]? {
        guard let comment else { return nil }
        let bytes = Array(comment.utf8.prefix(127)) + [0]
        return [0, UInt8(bytes.count)] + bytes
    }

    /// A prefix element of an interval set (`10.0.0.0/8`).
    public static func prefix(_ prefix: NFTPrefix) -> NFTSetElement {
        NFTSetElement(key: prefix.address, keyEnd: prefix.last)
    }

    /// A range element of an interval set, `first` to `last` inclusive.
    public static func range(_ first: NFTValue, _ last: NFTValue) -> NFTSetElement {
        NFTSetElement(key: first, keyEnd: last)
    }

    public enum Value: Sendable, Hashable {
        case verdict(NFTVerdict)
        case data(NFTValue)
    }
}

extension NFTSet {
    /// The set userdata `nft` writes (libnftnl `NFTNL_UDATA_SET_*` TLVs: type byte, length byte,
    /// value): the key's byte order, and a map's data byte order, so that `nft list` prints
    /// integer-like keys and values the right way round; a `typeof` set's expressions; the comment.
    var userdata: [UInt8] {
        var tlv = UserdataTLV.u32(0, keyType.byteOrder)  // NFTNL_UDATA_SET_KEYBYTEORDER
        switch mapping {
        case .data(let type): tlv += UserdataTLV.u32(1, type.byteOrder)  // NFTNL_UDATA_SET_DATABYTEORDER
        case .verdict: tlv += UserdataTLV.u32(1, 0)
        case nil: break
        }
        if let keyTypeof {
            tlv += UserdataTLV.nest(3, keyTypeof.userdata)  // NFTNL_UDATA_SET_KEY_TYPEOF
            if let dataTypeof {
                tlv += UserdataTLV.nest(4, dataTypeof.userdata)  // NFTNL_UDATA_SET_DATA_TYPEOF
                tlv += UserdataTLV.u32(6, 0)  // NFTNL_UDATA_SET_DATA_INTERVAL: values are not ranges
            }
        }
        if let comment {
            tlv += UserdataTLV.nest(7, Array(comment.utf8.prefix(127)) + [0])  // NFTNL_UDATA_SET_COMMENT
        }
        return tlv
    }
}
