import AsyncHTTPClient
import NIOCore

/// The `status` command's side: asks a running daemon's metrics port for `/status` over loopback.
public enum StatusClient {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Where to ask: the metrics port of `config` on loopback (a wildcard or loopback
    /// metricsBindAddress; `/status` answers loopback clients only).
    public static func url(for config: ProxyConfig) throws -> String {
        guard let address = BindAddress(config.metricsBindAddress), address.port != 0 else {
            throw Failure(description: "metricsBindAddress \(config.metricsBindAddress) serves no port: no /status to ask")
        }
        let host = "\(address.host)"
        let loopback = host.contains(":") ? (host == "::" || host == "::1" ? "[::1]" : nil) : (host == "0.0.0.0" || host.hasPrefix("127.") ? "127.0.0.1" : nil)
        guard let loopback else {
            throw Failure(description: "metricsBindAddress \(config.metricsBindAddress) does not listen on loopback: /status answers loopback clients only")
        }
        return "http://\(loopback):\(address.port)/status"
    }

    public static func fetch(_ url: String) async throws -> String {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 16 << 20)
        let text = String(buffer: body)
        guard response.status == .ok else { throw Failure(description: "\(url): \(response.status.code) \(text)") }
        return text
    }
}
