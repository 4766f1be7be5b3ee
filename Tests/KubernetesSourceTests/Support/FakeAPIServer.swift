import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// An in-process API server that speaks the real list/watch protocol over HTTP/1.1 (optionally
/// TLS): objects kept per collection with a global resourceVersion, paged LIST with `limit` and
/// `continue`, chunked WATCH streams replaying the event log from a resourceVersion and then
/// streaming live, BOOKMARKs, `410 Gone` (as a status or as an ERROR event) after a compaction,
/// and faults: a watch cut mid-object, a watch that goes silent, a server that goes away.
final class FakeAPIServer: Sendable {
    enum GoneStyle: Sendable { case httpStatus, errorEvent }

    struct Object: Sendable {
        var namespace: String?
        var name: String
        var labels: [String: String]
        var json: Data
        var key: String { "\(namespace ?? "")/\(name)" }
    }

    struct Event: Sendable {
        var resourceVersion: Int
        var collection: String
        var type: String
        var object: Object
    }

    struct Recorded: Sendable {
        var path: String
        var query: [String: String]
        var authorization: String?
        var isWatch: Bool { query["watch"] == "true" }
    }

    private struct Watcher: Sendable {
        var id: Int
        var collection: String
        var labelSelector: String?
        var fieldSelector: String?
        var channel: any Channel
        var muted = false
    }

    private struct State: Sendable {
        var resourceVersion = 100
        var collections: [String: [String: Object]] = [:]
        var log: [Event] = []
        var compactedBefore = 0
        var goneStyle = GoneStyle.httpStatus
        var servedGroupVersions: Set<String> = ["discovery.k8s.io/v1"]
        var acceptedTokens: Set<String>?
        /// An outage: every request is answered 503 and its connection closed.
        var down = false
        var requests: [Recorded] = []
        var watchers: [Int: Watcher] = [:]
        var nextWatcher = 0
    }

    private let state = Mutex(State())
    private let serverChannel: any Channel
    private let target: HandlerTarget
    let port: Int
    let scheme: String

    var url: String { "\(scheme)://127.0.0.1:\(port)" }

    init(tls: TLSConfiguration? = nil) async throws {
        let sslContext = try tls.map { try NIOSSLContext(configuration: $0) }
        scheme = tls == nil ? "http" : "https"
        let box = HandlerTarget()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                box.connections.withLock { $0.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                        try channel.pipeline.syncOperations.addHandler(HandshakeFailureCounter(target: box))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(RequestHandler(target: box))
                }
            }
        serverChannel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        target = box
        port = serverChannel.localAddress!.port!
        box.server.withLock { $0 = self }
    }

    func stop() async {
        let channels = state.withLock { s in
            defer { s.watchers = [:] }
            return s.watchers.values.map(\.channel)
        }
        for c in channels { try? await c.close() }
        try? await serverChannel.close()
        for c in target.connections.withLock({ $0 }) { try? await c.close() }
    }

    // MARK: what tests do

    var requests: [Recorded] { state.withLock { $0.requests } }
    var currentResourceVersion: Int { state.withLock { $0.resourceVersion } }
    var liveWatchCount: Int { state.withLock { $0.watchers.count } }
    var tlsFailures: Int { target.tlsFailures.withLock { $0 } }

    func setAcceptedTokens(_ tokens: Set<String>?) { state.withLock { $0.acceptedTokens = tokens } }

    /// Goes down (live watches cut, every request refused with 503) or comes back.
    func setDown(_ down: Bool) {
        let cut = state.withLock { s -> [Watcher] in
            s.down = down
            guard down else { return [] }
            defer { s.watchers = [:] }
            return Array(s.watchers.values)
        }
        for w in cut { w.channel.close(promise: nil) }
    }
    func setServedGroupVersions(_ versions: Set<String>) { state.withLock { $0.servedGroupVersions = versions } }
    func setGoneStyle(_ style: GoneStyle) { state.withLock { $0.goneStyle = style } }

    /// Creates or replaces an object (given as Kubernetes JSON) in a collection, e.g.
    /// `/api/v1/services`, and tells the watchers.
    @discardableResult
    func put(_ collection: String, _ json: Data, edit: (inout [String: Any]) -> Void = { _ in }) -> Int {
        var dict = (try! JSONSerialization.jsonObject(with: json)) as! [String: Any]
        edit(&dict)
        return state.withLock { s in
            s.resourceVersion += 1
            var meta = dict["metadata"] as? [String: Any] ?? [:]
            meta["resourceVersion"] = String(s.resourceVersion)
            dict["metadata"] = meta
            let object = Object(
                namespace: meta["namespace"] as? String, name: meta["name"] as? String ?? "",
                labels: meta["labels"] as? [String: String] ?? [:],
                json: try! JSONSerialization.data(withJSONObject: dict, options: [.sortedKeys]))
            let type = s.collections[collection]?[object.key] == nil ? "ADDED" : "MODIFIED"
            s.collections[collection, default: [:]][object.key] = object
            record(Event(resourceVersion: s.resourceVersion, collection: collection, type: type, object: object), in: &s)
            return s.resourceVersion
        }
    }

    /// Puts raw bytes (that need not decode) as an object named `namespace/name`.
    func putRaw(_ collection: String, namespace: String, name: String, json: String) {
        state.withLock { s in
            s.resourceVersion += 1
            let object = Object(namespace: namespace, name: name, labels: [:], json: Data(json.utf8))
            let type = s.collections[collection]?[object.key] == nil ? "ADDED" : "MODIFIED"
            s.collections[collection, default: [:]][object.key] = object
            record(Event(resourceVersion: s.resourceVersion, collection: collection, type: type, object: object), in: &s)
        }
    }

    func delete(_ collection: String, namespace: String?, name: String) {
        state.withLock { s in
            let key = "\(namespace ?? "")/\(name)"
            guard let object = s.collections[collection]?.removeValue(forKey: key) else { return }
            s.resourceVersion += 1
            record(Event(resourceVersion: s.resourceVersion, collection: collection, type: "DELETED", object: object), in: &s)
        }
    }

    /// Forgets the event log: watches from any older resourceVersion now get `410 Gone`.
    func compact() {
        state.withLock { s in
            s.compactedBefore = s.resourceVersion
            s.log.removeAll()
        }
    }

    /// Sends a BOOKMARK at the current resourceVersion to every live watch.
    func bookmark() {
        state.withLock { s in
            let line = #"{"type":"BOOKMARK","object":{"kind":"Service","apiVersion":"v1","metadata":{"resourceVersion":"\#(s.resourceVersion)","annotations":{"k8s.io/initial-events-end":"true"}}}}"#
            for w in s.watchers.values where !w.muted { send(line + "\n", to: w.channel) }
        }
    }

    /// Sends a line as-is to every live watch of a collection (an ERROR event, say).
    func sendToWatchers(_ collection: String, line: String) {
        state.withLock { s in
            for w in s.watchers.values where w.collection == collection && !w.muted { send(line + "\n", to: w.channel) }
        }
    }

    /// Every live watch stops receiving anything but stays open, like one behind a dead proxy.
    func silenceWatches() {
        state.withLock { s in for id in s.watchers.keys { s.watchers[id]!.muted = true } }
    }

    /// Every live watch gets the first half of an object and then the connection is closed.
    func cutWatchesMidObject() {
        let victims = state.withLock { s in
            defer { s.watchers = [:] }
            return Array(s.watchers.values)
        }
        for w in victims {
            send(#"{"type":"MODIFIED","object":{"kind":"Service","apiVersion":"v1","metadata":{"name":"#, to: w.channel)
            w.channel.close(promise: nil)
        }
    }

    /// Every live watch ends cleanly, as at `timeoutSeconds`.
    func endWatches() {
        let ended = state.withLock { s in
            defer { s.watchers = [:] }
            return Array(s.watchers.values)
        }
        for w in ended { w.channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil) }
    }

    // MARK: serving

    private func record(_ event: Event, in s: inout State) {
        s.log.append(event)
        for w in s.watchers.values where w.collection == event.collection && !w.muted
            && Self.matches(event.object, labels: w.labelSelector, fields: w.fieldSelector) {
            send(Self.eventLine(event), to: w.channel)
        }
    }

    private static func eventLine(_ event: Event) -> String {
        #"{"type":"\#(event.type)","object":"# + String(decoding: event.object.json, as: UTF8.self) + "}\n"
    }

    private func send(_ text: String, to channel: any Channel) {
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: text))), promise: nil)
    }

    fileprivate func handle(_ head: HTTPRequestHead, on channel: any Channel) {
        let components = URLComponents(string: head.uri)
        let path = components?.path ?? head.uri
        var query: [String: String] = [:]
        for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let authorization = head.headers["Authorization"].first
        let keepAlive = head.isKeepAlive
        state.withLock { s in
            s.requests.append(Recorded(path: path, query: query, authorization: authorization))
            if s.down {
                respond(channel, 503, Self.status(503, "ServiceUnavailable", "the server is down"), keepAlive: false)
                return
            }
            if let tokens = s.acceptedTokens {
                guard let authorization, authorization.hasPrefix("Bearer "), tokens.contains(String(authorization.dropFirst(7))) else {
                    respond(channel, 401, Self.status(401, "Unauthorized", "Unauthorized"), keepAlive: keepAlive)
                    return
                }
            }
            if path.hasPrefix("/apis/discovery.k8s.io/") {
                let version = path.split(separator: "/").dropFirst(2).first.map(String.init) ?? ""
                guard s.servedGroupVersions.contains("discovery.k8s.io/\(version)") else {
                    respond(channel, 404, Self.status(404, "NotFound", "the server could not find the requested resource"), keepAlive: keepAlive)
                    return
                }
                if path == "/apis/discovery.k8s.io/\(version)" {
                    respond(channel, 200, #"{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"discovery.k8s.io/\#(version)","resources":[{"name":"endpointslices","singularName":"endpointslice","namespaced":true,"kind":"EndpointSlice","verbs":["create","delete","deletecollection","get","list","patch","update","watch"]}]}"#, keepAlive: keepAlive)
                    return
                }
            }
            if query["watch"] == "true" {
                startWatch(path, query: query, channel: channel, in: &s)
            } else {
                list(path, query: query, channel: channel, keepAlive: keepAlive, in: &s)
            }
        }
    }

    private func list(_ collection: String, query: [String: String], channel: any Channel, keepAlive: Bool, in s: inout State) {
        let all = (s.collections[collection] ?? [:]).values
            .filter { Self.matches($0, labels: query["labelSelector"], fields: query["fieldSelector"]) }
            .sorted { $0.key < $1.key }
        let offset = query["continue"].flatMap { Int($0) } ?? 0
        let limit = query["limit"].flatMap { Int($0) } ?? all.count
        let page = all.dropFirst(offset).prefix(max(1, limit))
        let next = offset + page.count < all.count ? String(offset + page.count) : ""
        let kind = collection.split(separator: "/").last.map { $0.prefix(1).uppercased() + $0.dropFirst() } ?? "Object"
        let items = page.map { String(decoding: $0.json, as: UTF8.self) }.joined(separator: ",")
        let remaining = next.isEmpty ? "" : #","remainingItemCount":\#(all.count - offset - page.count)"#
        let body = #"{"kind":"\#(kind)List","apiVersion":"v1","metadata":{"resourceVersion":"\#(s.resourceVersion)","continue":"\#(next)"\#(remaining)},"items":[\#(items)]}"#
        respond(channel, 200, body, keepAlive: keepAlive)
    }

    private func startWatch(_ collection: String, query: [String: String], channel: any Channel, in s: inout State) {
        let from = query["resourceVersion"].flatMap { Int($0) } ?? s.resourceVersion
        if from < s.compactedBefore {
            let message = "too old resource version: \(from) (\(s.compactedBefore))"
            switch s.goneStyle {
            case .httpStatus:
                respond(channel, 410, Self.status(410, "Expired", message), keepAlive: true)
                return
            case .errorEvent:
                var head = HTTPResponseHead(version: .http1_1, status: .ok)
                head.headers.add(name: "Content-Type", value: "application/json")
                channel.write(HTTPServerResponsePart.head(head), promise: nil)
                send(#"{"type":"ERROR","object":\#(Self.status(410, "Expired", message))}"# + "\n", to: channel)
                channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
                return
            }
        }
        var head = HTTPResponseHead(version: .http1_1, status: .ok)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Transfer-Encoding", value: "chunked")
        channel.writeAndFlush(HTTPServerResponsePart.head(head), promise: nil)
        let watcher = Watcher(id: s.nextWatcher, collection: collection, labelSelector: query["labelSelector"],
                              fieldSelector: query["fieldSelector"], channel: channel)
        s.nextWatcher += 1
        for event in s.log where event.resourceVersion > from && event.collection == collection
            && Self.matches(event.object, labels: watcher.labelSelector, fields: watcher.fieldSelector) {
            send(Self.eventLine(event), to: channel)
        }
        s.watchers[watcher.id] = watcher
        let id = watcher.id
        channel.closeFuture.whenComplete { [weak self] _ in
            self?.state.withLock { _ = $0.watchers.removeValue(forKey: id) }
        }
    }

    private func respond(_ channel: any Channel, _ code: Int, _ body: String, keepAlive: Bool) {
        var head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: code))
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(body.utf8.count))
        if !keepAlive { head.headers.add(name: "Connection", value: "close") }
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
    }

    static func status(_ code: Int, _ reason: String, _ message: String) -> String {
        #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"\#(message)","reason":"\#(reason)","code":\#(code)}"#
    }

    /// The selector subset kube-proxy uses: `!key`, `key=value`, `key!=value`; `metadata.name=…`.
    static func matches(_ object: Object, labels: String?, fields: String?) -> Bool {
        for term in (labels ?? "").split(separator: ",") {
            if term.hasPrefix("!") {
                if object.labels[String(term.dropFirst())] != nil { return false }
            } else if let range = term.range(of: "!=") {
                if object.labels[String(term[..<range.lowerBound])] == String(term[range.upperBound...]) { return false }
            } else if let range = term.range(of: "=") {
                if object.labels[String(term[..<range.lowerBound])] != String(term[range.upperBound...]).trimmingCharacters(in: ["="]) { return false }
            }
        }
        for term in (fields ?? "").split(separator: ",") {
            let parts = term.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            if parts[0] == "metadata.name", object.name != parts[1] { return false }
            if parts[0] == "metadata.namespace", object.namespace != parts[1] { return false }
        }
        return true
    }
}

/// Lets the child-channel initializer reach the server, which exists only after binding.
private final class HandlerTarget: Sendable {
    let server = Mutex<FakeAPIServer?>(nil)
    let connections = Mutex<[any Channel]>([])
    let tlsFailures = Mutex(0)
}

/// Counts connections whose TLS handshake (or session) failed.
private final class HandshakeFailureCounter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let target: HandlerTarget
    init(target: HandlerTarget) { self.target = target }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        target.tlsFailures.withLock { $0 += 1 }
        context.close(promise: nil)
    }
}

private final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let target: HandlerTarget
    var head: HTTPRequestHead?

    init(target: HandlerTarget) { self.target = target }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            if let head, let server = target.server.withLock({ $0 }) { server.handle(head, on: context.channel) }
            head = nil
        }
    }
}
