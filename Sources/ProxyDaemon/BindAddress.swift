import ProxyModel

/// `host:port` of a listening endpoint (`0.0.0.0:10256`, `[::1]:10249`); an empty host means all.
public struct BindAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: IPAddress
    public var port: Int

    public init(host: IPAddress, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let hostText = text[..<colon]
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        if hostText.isEmpty {
            host = IPAddress(ipv4: 0)
        } else {
            guard let ip = IPAddress(hostText) else { return nil }
            host = ip
        }
        self.port = port
    }

    public var description: String { host.isIPv4 ? "\(host):\(port)" : "[\(host)]:\(port)" }
}
