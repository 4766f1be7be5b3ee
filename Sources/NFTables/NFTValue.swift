#if canImport(Glibc)
import Glibc
#endif

/// A value as the kernel compares it: bytes in the order the packet (or the register) holds them.
///
/// Addresses and ports are network byte order, `inet_proto` is one byte, marks and integers are host
/// byte order. A concatenation pads each part to 4 bytes, as in the registers.
public struct NFTValue: Sendable, Hashable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The bytes in one go: the derived hash fed them to the hasher one by one, and a full sync
    /// hashes millions of keys.
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public static func == (a: NFTValue, b: NFTValue) -> Bool { a.bytes == b.bytes }

    /// An IPv4 address in dotted form; nil if it is not one.
    public init?(ipv4 text: String) {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
        bytes = withUnsafeBytes(of: &address) { Array($0) }
    }

    /// An IPv6 address in any form `inet_pton` reads; nil if it is not one.
    public init?(ipv6 text: String) {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        bytes = withUnsafeBytes(of: &address) { Array($0) }
    }

    /// An IPv4 or IPv6 address; nil if it is neither.
    public init?(ipAddress text: String) {
        if let v4 = NFTValue(ipv4: text) { self = v4 } else if let v6 = NFTValue(ipv6: text) { self = v6 } else { return nil }
    }

    /// A transport port (`inet_service`), network byte order.
    public static func port(_ port: UInt16) -> NFTValue { NFTValue(bytes: [UInt8(port >> 8), UInt8(port & 0xff)]) }

    /// A layer-4 protocol number (`inet_proto`).
    public static func proto(_ proto: NFTProtocol) -> NFTValue { NFTValue(bytes: [proto.rawValue]) }

    /// A `meta nfproto` value: the packet's family, for rules in an `inet` table.
    public static func nfproto(_ family: NFTFamily) -> NFTValue { NFTValue(bytes: [family.protocolFamily]) }

    /// A packet mark, host byte order.
    public static func mark(_ mark: UInt32) -> NFTValue { integer(mark) }

    /// A 32-bit integer in host byte order (numgen results, ct state bits, fib address types).
    public static func integer(_ value: UInt32) -> NFTValue {
        NFTValue(bytes: withUnsafeBytes(of: value) { Array($0) })
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
    public static func concat(_ parts: NFTValue...) -> NFTValue { concat(parts) }

    public static func concat(_ parts: [NFTValue]) -> NFTValue {
        // One allocation: a full sync builds a hundred thousand of these.
        var bytes = [UInt8](repeating: 0, count: parts.reduce(0) { $0 + NFTDataType.padded($1.bytes.count) })
        var offset = 0
        for part in parts {
            bytes.replaceSubrange(offset..<offset + part.bytes.count, with: part.bytes)
            offset += NFTDataType.padded(part.bytes.count)
        }
        return NFTValue(bytes: bytes)
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
