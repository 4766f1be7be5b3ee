/// An IPv4 or IPv6 address, kept in network byte order so it converts to a `sockaddr` without work.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt64, UInt64)

    /// Parses "10.0.0.1" or "fd00::1"; nil for anything else (no names: the proxy never resolves).
    public init?(_ text: String) {
        guard let parsed = IPAddress(presentation: text) else { return nil }
        self = parsed
    }

    public var description: String { presentation }

    public var isIPv6: Bool {
        if case .v6 = self { return true }
        return false
    }
}

/// Where the proxy listens or which endpoint it dials: an IP address and a port.
public struct ProxyAddress: Hashable, Sendable, CustomStringConvertible {
    public var ip: IPAddress
    public var port: UInt16

    public init(ip: IPAddress, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    /// `host` is a numeric IPv4 or IPv6 address ("127.0.0.1", "::1"), optionally in brackets.
    public init(host: String, port: UInt16) throws(AddressError) {
        var text = Substring(host)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        guard let ip = IPAddress(String(text)) else { throw AddressError(text: host) }
        self.init(ip: ip, port: port)
    }

    /// Parses "127.0.0.1:8080" or "[::1]:8080".
    public init(_ text: String) throws(AddressError) {
        guard let colon = text.lastIndex(of: ":"),
              let port = UInt16(text[text.index(after: colon)...])
        else { throw AddressError(text: text) }
        let host = String(text[..<colon])
        // A bare IPv6 address has colons of its own: require brackets when a port follows.
        if host.contains(":"), !(host.hasPrefix("[") && host.hasSuffix("]")) { throw AddressError(text: text) }
        do { try self.init(host: host, port: port) } catch { throw AddressError(text: text) }
    }

    public var description: String {
        ip.isIPv6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

public struct AddressError: Error, Hashable, Sendable, CustomStringConvertible {
    public var text: String
    public var description: String { "not a numeric IP address (and port): \(text)" }
}
