import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One real HTTP GET against our servers on 127.0.0.1.
struct HTTPGetResult {
    var status: Int
    var headers: [String: String]
    var body: String
}

func httpGet(_ url: String) async throws -> HTTPGetResult {
    let configuration = URLSessionConfiguration.ephemeral
    configuration.timeoutIntervalForRequest = 10
    let session = URLSession(configuration: configuration)
    defer { session.finishTasksAndInvalidate() }
    let (data, response) = try await session.data(from: URL(string: url)!)
    let http = response as! HTTPURLResponse
    var headers: [String: String] = [:]
    for (k, v) in http.allHeaderFields { headers["\(k)".lowercased()] = "\(v)" }
    return HTTPGetResult(status: http.statusCode, headers: headers, body: String(decoding: data, as: UTF8.self))
}

/// Polls `condition` (no fixed sleeps as synchronisation; the bound only ends a test that already failed).
func eventually(_ condition: () async throws -> Bool) async throws {
    for _ in 0..<1000 {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// The value of the sample `name{labels}` (labels written as in the exposition, or "" for none).
func sample(_ text: String, _ name: String, _ labels: String = "") -> Double? {
    let key = labels.isEmpty ? name : "\(name){\(labels)}"
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        let parts = line.split(separator: " ")
        if parts.count >= 2, parts[0] == key { return Double(parts[1]) }
    }
    return nil
}
