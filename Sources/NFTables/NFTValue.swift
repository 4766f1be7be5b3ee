#if canImport(Glibc)
import Glibc
#endif

/// A value as the kernel compares it: bytes in the order the packet (or the register) holds them.
///
/// Addresses and ports are network byte order, `inet_proto` is one byte, marks and integers are host
/// byte order. A concatenation pads each part to 4 bytes, as in the registers.
///
/// Up to 16 bytes (every IPv4 key and value of ours, an IPv6 address, an interface name) are held
/// inline: a full sync at 100,000 Services makes millions of these, and a heap array each was a
/// malloc, a free and reference counting apiece, 48 bytes of heap beside the 8 of the reference.
/// Longer values (IPv6 concatenations) keep an array. The form is canonical (a value of at most 16
/// bytes is never an array), so equality and hashing never compare the two forms.
public struct NFTValue: Sendable, Hashable, CustomStringConvertible {
    /// Inline bytes, in memory order, zero past `count`.
    struct Inline: Sendable, Hashable {
        var low: UInt64 = 0, high: UInt64 = 0
        var count: UInt8 = 0

        /// Writes `part`'s bytes at byte `offset` (they fit; the bytes there are zero). On a
        /// little-endian machine byte i is bits 8i… of the two words, so this is a 128-bit shift.
        mutating func place(_ part: Inline, at offset: Int) {
            #if _endian(little)
            let shift = UInt64(offset * 8)
            // Smart shifts: past the width they give 0, and a negative amount shifts the other way.
            low |= part.low << shift
            high |= (part.high << shift) | (part.low >> (64 - Int64(shift)))
            #else
            var part = part
            Swift.withUnsafeMutableBytes(of: &self) { target in
                Swift.withUnsafeBytes(of: &part) { (target.baseAddress! + offset).copyMemory(from: $0.baseAddress!, byteCount: Int(part.count)) }
            }
            #endif
        }
    }

    enum Storage: Sendable, Hashable {
        case inline(Inline)
        case heap([UInt8])
    }

    var storage: Storage

    static let inlineCapacity = 16

    public init(bytes: [UInt8]) {
        if bytes.count <= Self.inlineCapacity {
            self = bytes.withUnsafeBytes { NFTValue(copying: $0) }
        } else {
            storage = .heap(bytes)
        }
    }

    /// A copy of `raw`'s bytes. The module's byte copying into inline storage is here and in
    /// `concat`: a loop of byte stores was a third of a key's cost.
    public init(copying raw: UnsafeRawBufferPointer) {
        guard raw.count <= Self.inlineCapacity else {
            storage = .heap(Array(raw))
            return
        }
        var value = Inline()
        if let source = raw.baseAddress {
            Swift.withUnsafeMutableBytes(of: &value) { $0.baseAddress!.copyMemory(from: source, byteCount: raw.count) }
        }
        value.count = UInt8(raw.count)
        storage = .inline(value)
    }

    /// The bytes of a trivial value (an address, an integer) in memory order.
    init<T>(of value: T) {
        var value = value
        self = Swift.withUnsafeBytes(of: &value) { NFTValue(copying: $0) }
    }

    /// The bytes, as a new array (the hot paths use `withUnsafeBytes` and `count` instead).
    public var bytes: [UInt8] {
        get { withUnsafeBytes { Array($0) } }
        set { self = NFTValue(bytes: newValue) }
    }

    /// How many bytes.
    public var count: Int {
        switch storage {
        case .inline(let value): Int(value.count)
        case .heap(let bytes): bytes.count
        }
    }

    /// Calls `body` with the bytes, without copying them into an array.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch storage {
        case .inline(let value):
            let count = Int(value.count)
            return try Swift.withUnsafeBytes(of: value) { try body(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
        case .heap(let bytes):
            return try bytes.withUnsafeBytes(body)
        }
    }

    /// Two words, the count folded into the top byte (zero below 16 bytes): a byte of its own
    /// took the hasher's slow tail path, on every key of every table.
    public func hash(into hasher: inout Hasher) {
        switch storage {
        case .inline(let value):
            hasher.combine(value.low)
            hasher.combine(value.high ^ UInt64(value.count) << 56)
        case .heap(let bytes):
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    public static func == (a: NFTValue, b: NFTValue) -> Bool { a.storage == b.storage }

    /// An IPv4 address in dotted form; nil if it is not one.
    public init?(ipv4 text: String) {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
        self.init(of: address)
    }

    /// An IPv6 address in any form `inet_pton` reads; nil if it is not one.
    public init?(ipv6 text: String) {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        self.init(of: address)
    }

    /// An IPv4 or IPv6 address; nil if it is neither.
    public init?(ipAddress text: String) {
        if let v4 = NFTValue(ipv4: text) { self = v4 } else if let v6 = NFTValue(ipv6: text) { self = v6 } else { return nil }
    }

    /// A transport port (`inet_service`), network byte order.
    public static func port(_ port: UInt16) -> NFTValue { NFTValue(of: port.bigEndian) }

    /// A layer-4 protocol number (`inet_proto`).
    public static func proto(_ proto: NFTProtocol) -> NFTValue { NFTValue(of: proto.rawValue) }

    /// A `meta nfproto` value: the packet's family, for rules in an `inet` table.
    public static func nfproto(_ family: NFTFamily) -> NFTValue { NFTValue(of: family.protocolFamily) }

    /// A packet mark, host byte order.
    public static func mark(_ mark: UInt32) -> NFTValue { integer(mark) }

    /// A 32-bit integer in host byte order (numgen results, ct state bits, fib address types).
    public static func integer(_ value: UInt32) -> NFTValue {
        NFTValue(of: value)
    }

    /// An interface name, NUL-padded to `IFNAMSIZ` (16) bytes.
    public static func ifname(_ name: String) -> NFTValue {
        var bytes = Array(name.utf8.prefix(15))
        bytes += Array(repeating: 0, count: 16 - bytes.count)
        return NFTValue(bytes: bytes)
    }

    /// The value plus one as a big-endian number, or nil when it overflows (the exclusive end of an
    /// interval that the kernel's rbtree sets store as a separate "end" element).
    var successor: NFTValue? {
        var bytes = self.bytes
        for index in bytes.indices.reversed() {
            if bytes[index] == 0xff {
                bytes[index] = 0
            } else {
                bytes[index] += 1
                return NFTValue(bytes: bytes)
            }
        }
        return nil
    }

    /// `a . b . c`: each part padded with zeros to a multiple of 4 bytes.
    /// Disfavoured so that two and three parts take the overloads below (no array).
    @_disfavoredOverload
    public static func concat(_ parts: NFTValue...) -> NFTValue { concat(parts) }

    public static func concat(_ parts: [NFTValue]) -> NFTValue {
        var value = NFTValue(storage: .inline(Inline()))
        for part in parts { value.appendPadded(part) }
        return value
    }

    /// Two and three parts without the variadic array: the renderer builds a million such keys.
    public static func concat(_ a: NFTValue, _ b: NFTValue) -> NFTValue {
        if case .inline(var value) = a.storage, case .inline(let second) = b.storage {
            let offset = NFTDataType.padded(Int(value.count)), total = offset + NFTDataType.padded(Int(second.count))
            if total <= inlineCapacity {
                value.place(second, at: offset)
                value.count = UInt8(total)
                return NFTValue(storage: .inline(value))
            }
        }
        return concat([a, b])
    }

    public static func concat(_ a: NFTValue, _ b: NFTValue, _ c: NFTValue) -> NFTValue { concat(concat(a, b), c) }

    private init(storage: Storage) { self.storage = storage }

    /// Appends `part` and zeros up to a multiple of 4 bytes; `self`'s length is one already.
    private mutating func appendPadded(_ part: NFTValue) {
        let offset = count, total = offset + NFTDataType.padded(part.count)
        if case .inline(var value) = storage, case .inline(let inlinePart) = part.storage, total <= Self.inlineCapacity {
            value.place(inlinePart, at: offset)  // the bytes past `count` are zero already
            value.count = UInt8(total)
            storage = .inline(value)
            return
        }
        var bytes = self.bytes
        bytes.reserveCapacity(total)
        part.withUnsafeBytes { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: repeatElement(0, count: total - bytes.count))
        storage = .heap(bytes)
    }

    /// Hex bytes in memory order (`0x0a000001` for 10.0.0.1).
    public var description: String {
        "0x" + bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }
}

/// Layer-4 protocol numbers used with `meta l4proto`.
public enum NFTProtocol: UInt8, Sendable, Hashable {
    case icmp = 1, tcp = 6, udp = 17, icmpv6 = 58, sctp = 132

    var name: String {
        switch self {
        case .icmp: "icmp"
        case .tcp: "tcp"
        case .udp: "udp"
        case .icmpv6: "ipv6-icmp"
        case .sctp: "sctp"
        }
    }
}

/// An address prefix such as `10.0.0.0/8` or `fd00::/64`.
public struct NFTPrefix: Sendable, Hashable, CustomStringConvertible {
    /// The network address (host bits cleared).
    public let address: NFTValue
    public let length: Int

    /// Parses `address/length`; a bare address is a full-length prefix.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let address = NFTValue(ipAddress: parts[0]) else { return nil }
        let bits = address.bytes.count * 8
        let length = parts.count == 2 ? Int(parts[1]) : bits
        guard let length else { return nil }
        self.init(address: address.bytes, length: length)
    }

    /// `address/length` from the address's bytes (4 or 16), without parsing text.
    public init?(address bytes: [UInt8], length: Int) {
        guard bytes.count == 4 || bytes.count == 16, (0...bytes.count * 8).contains(length) else { return nil }
        self.length = length
        address = NFTValue(bytes: zip(bytes, NFTPrefix.mask(length: length, bytes: bytes.count)).map { $0 & $1 })
    }

    /// A full-length prefix of a 4- or 16-byte address.
    init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        address = NFTValue(bytes: bytes)
        length = bytes.count * 8
    }

    /// A netmask of `length` one-bits, `bytes` long.
    static func mask(length: Int, bytes: Int) -> [UInt8] {
        (0..<bytes).map { index in
            let bits = max(0, min(8, length - index * 8))
            return bits == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - bits))
        }
    }

    /// The last address inside the prefix (host bits set): the inclusive end of the range.
    public var last: NFTValue {
        let mask = NFTPrefix.mask(length: length, bytes: address.bytes.count)
        return NFTValue(bytes: zip(address.bytes, mask).map { $0 | ~$1 })
    }

    public var description: String {
        var text = [CChar](repeating: 0, count: 64)
        let family = address.bytes.count == 4 ? AF_INET : AF_INET6
        _ = address.bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &text, 64) }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/\(length)"
    }
}
