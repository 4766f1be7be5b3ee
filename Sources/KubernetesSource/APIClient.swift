import AsyncHTTPClient
import Foundation
import KubernetesAPI
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// A non-2xx answer from the API server, with its `Status` body when it sent one.
struct APIStatusError: Error, CustomStringConvertible {
    var code: Int
    var status: StatusObject?
    var path: String

    /// The resourceVersion asked for is older than the server keeps: relist.
    var isGone: Bool { code == 410 || status?.isGone == true }

    var description: String {
        "GET \(path): HTTP \(code)" + (status?.message.map { ": \($0)" } ?? status?.reason.map { ": \($0)" } ?? "")
    }
}

/// GET requests to one API server, authenticated and over the right TLS, with bodies left as
/// streams: a LIST page is collected, a WATCH is read chunk by chunk as it arrives.
final class APIClient: Sendable {
    /// A Status body is small; a LIST page of `limit` objects is bounded too.
    static let maxErrorBody = 1 << 20

    let server: String
    private let http: HTTPClient
    private let credentials: RequestCredentials

    /// - Parameter stallTimeout: a response that sends no byte for this long is given up
    ///   (a watch that went silent behind a dead load balancer, say).
    init(connection: ClusterConnection, stallTimeout: Duration, connectTimeout: Duration = .seconds(10),
         credentials: RequestCredentials? = nil) throws(ConnectionConfigError) {
        server = connection.server
        if let credentials {
            self.credentials = credentials
        } else {
            self.credentials = try RequestCredentials(connection: connection)
        }
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: TimeAmount(connectTimeout), read: TimeAmount(stallTimeout))
        configuration.decompression = .disabled
        configuration.redirectConfiguration = .disallow
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Sends `GET path?query`. A 2xx response is returned with its body unread; anything else is
    /// thrown as `APIStatusError`. A 401 with an exec plugin runs the plugin again, once.
    func get(_ path: String, query: [(String, String)], timeout: Duration) async throws -> HTTPClientResponse {
        let url = server + path + Self.queryString(query)
        var retried = false
        while true {
            let current = try await credentials.current()
            var request = HTTPClientRequest(url: url)
            request.method = .GET
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "User-Agent", value: "swift-kube-proxy")
            if let authorization = current.authorization { request.headers.add(name: "Authorization", value: authorization) }
            if server.hasPrefix("https://") { request.tlsConfiguration = current.tls }
            let response = try await http.execute(request, timeout: TimeAmount(timeout))
            if (200..<300).contains(response.status.code) { return response }
            let body = try? await response.body.collect(upTo: Self.maxErrorBody)
            let status = body.flatMap { try? JSONDecoder().decode(StatusObject.self, from: $0) }
            if response.status.code == 401, let plugin = credentials.plugin, let refused = current.execCredential, !retried {
                plugin.invalidate(refused)
                retried = true
                continue
            }
            throw APIStatusError(code: Int(response.status.code), status: status, path: path)
        }
    }

    func shutdown() async throws {
        try await http.shutdown()
    }

    static func queryString(_ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return "" }
        return "?" + query.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters.
    static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
