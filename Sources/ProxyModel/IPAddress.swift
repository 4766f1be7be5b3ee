#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address, stored as 16 bytes (IPv4 in the low 4 of `low`), so it hashes and
/// compares cheaply and can be handed to any dataplane without reparsing.
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public enum Family: Sendable, Hashable { case ipv4, ipv6 }

    // The family last: 17 bytes, so a struct that holds an address can put small fields in its
    // tail padding (an `Endpoint`'s flags; a million endpoints at 100,000 Services).
    /// Network-order bytes, big-endian packed: for IPv4 only `low`'s low 32 bits are used.
    public let high: UInt64
    public let low: UInt64
    public let family: Family

    public init(ipv4 value: UInt32) {
        family = .ipv4
        high = 0
        low = UInt64(value)
    }

    public init(ipv6High high: UInt64, low: UInt64) {
        family = .ipv6
        self.high = high
        self.low = low
    }

    /// Parses dotted-quad IPv4 or any RFC 4291 IPv6 text form; `nil` for anything else.
    public init?(_ text: some StringProtocol) {
        self.init(text, sloppy: false)
    }

    /// As kube-proxy's `netutils.ParseIPSloppy`: IPv4 octets may have leading zeros, read as
    /// decimal (`172.30.0.041` is 172.30.0.41), because the API server once stored such addresses
    /// and still serves them.
    public init?(sloppy text: some StringProtocol) {
        self.init(text, sloppy: true)
    }

    private init?(_ text: some StringProtocol, sloppy: Bool) {
        var text = String(text)
        if text.isEmpty || text.count > (sloppy ? 64 : 45) { return nil }
        if text.first == "[" && text.last == "]" { text = String(text.dropFirst().dropLast()) }
        if text.contains(":") {
            // inet_pton is a pure parser (no I/O); it is the reference grammar for IPv6 text.
            var raw = in6_addr()
            guard inet_pton(AF_INET6, text, &raw) == 1 else { return nil }
            let bytes = withUnsafeBytes(of: &raw) { Array($0) }
            self.init(ipv6Bytes: bytes)
        } else {
            var parts: [UInt32] = []
            for piece in text.split(separator: ".", omittingEmptySubsequences: false) {
                // Leading zeros are rejected, as Go's net.ParseIP does (they are ambiguous: octal?).
                let digits = sloppy ? piece.drop { $0 == "0" } : piece[...]
                guard !piece.isEmpty, piece.allSatisfy(\.isASCIIDigit), digits.count <= 3,
                      sloppy || piece.count == 1 || piece.first != "0",
                      let octet = digits.isEmpty ? 0 : UInt32(digits), octet <= 255 else { return nil }
                parts.append(octet)
            }
            guard parts.count == 4 else { return nil }
            self.init(ipv4: parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3])
        }
    }

    /// 16 network-order bytes of an IPv6 address; 4-to-6 mapped forms become IPv4.
    public init(ipv6Bytes bytes: [UInt8]) {
        precondition(bytes.count == 16)
        var high: UInt64 = 0, low: UInt64 = 0
        for i in 0..<8 { high = high << 8 | UInt64(bytes[i]) }
        for i in 8..<16 { low = low << 8 | UInt64(bytes[i]) }
        if high == 0 && low >> 32 == 0xFFFF {
            self.init(ipv4: UInt32(truncatingIfNeeded: low))
        } else {
            self.init(ipv6High: high, low: low)
        }
    }

    public var isIPv4: Bool { family == .ipv4 }
    public var ipv4Value: UInt32 { UInt32(truncatingIfNeeded: low) }

    /// The address in network byte order: 4 bytes for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        switch family {
        case .ipv4:
            let v = ipv4Value
            return [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
        case .ipv6:
            // One array (the two maps and their sum were three): renderers ask for every endpoint's.
            return withUnsafeBytes(of: (high.bigEndian, low.bigEndian)) { Array($0) }
        }
    }

    public var isLoopback: Bool {
        switch family {
        case .ipv4: return ipv4Value >> 24 == 127
        case .ipv6: return high == 0 && low == 1
        }
    }

    /// 0.0.0.0 or ::, "any address" (a bind address that names no node IP).
    public var isUnspecified: Bool { self == IPAddress(ipv4: 0) || self == IPAddress(ipv6High: 0, low: 0) }

    public var description: String {
        switch family {
        case .ipv4:
            let v = ipv4Value
            return "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)"
        case .ipv6:
            var raw = in6_addr()
            let b = bytes
            withUnsafeMutableBytes(of: &raw) { for i in 0..<16 { $0[i] = b[i] } }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count))
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        if lhs.family != rhs.family { return lhs.family == .ipv4 }
        return (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
