import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// What a handler answers; the server adds Content-Length.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [String: String]
    public var body: String

    public init(status: Int, headers: [String: String] = [:], body: String) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    static let notFound = HTTPResponse(status: 404, headers: ["Content-Type": "text/plain; charset=utf-8"], body: "404 page not found\n")
}

/// A small HTTP/1.1 server on SwiftNIO for /metrics, /healthz and the health check node ports:
/// GET (and HEAD) by path, one answer per request, keep-alive as the client asks.
///
/// Bounded, since health check node ports face the network and, in userspace mode, every
/// descriptor it holds is one the proxy cannot use: a connection idle for `idleTimeout` (no
/// request, or a request that never ends) is closed; beyond `maxConnections` new connections are
/// closed at once; a client that sends requests without reading the answers stops being read
/// until its answers drain.
public final class HTTPServer: Sendable {
    public typealias Handler = @Sendable (_ path: String) -> HTTPResponse

    public struct Limits: Sendable {
        public var idleTimeout: TimeAmount
        public var maxConnections: Int
        public init(idleTimeout: TimeAmount = .seconds(30), maxConnections: Int = 64) {
            self.idleTimeout = idleTimeout
            self.maxConnections = maxConnections
        }
    }

    private let channel: any Channel
    /// The port bound (useful when asked for port 0).
    public let port: Int

    private init(channel: any Channel) {
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    /// Binds `host:port` and serves until `close()`. Paths in `loopbackOnly` answer 403 to any client
    /// not on a loopback address (whatever address the server listens on).
    public static func start(host: String, port: Int, limits: Limits = Limits(), loopbackOnly: Set<String> = [], handler: @escaping Handler,
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> HTTPServer {
        let open = OpenConnections()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 128)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 256 * 1024))
            .childChannelInitializer { channel in
                guard open.admit(limit: limits.maxConnections) else { return channel.close() }
                channel.closeFuture.whenComplete { _ in open.release() }
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(IdleStateHandler(readTimeout: limits.idleTimeout))
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(RequestHandler(handler: handler, loopbackOnly: loopbackOnly))
                }
            }
            .bind(host: host, port: port)
            .get()
        return HTTPServer(channel: channel)
    }

    /// 127.0.0.0/8, ::1, or 127.x.x.x mapped into IPv6 (a client of a "::" socket).
    static func isLoopback(_ ip: String?) -> Bool {
        guard let ip = ip?.lowercased() else { return false }
        return ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
    }

    /// Stops listening (connections in progress finish their answer).
    public func close() async {
        try? await channel.close()
    }
}

private final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let handler: HTTPServer.Handler
    private let loopbackOnly: Set<String>
    private var head: HTTPRequestHead?

    init(handler: @escaping HTTPServer.Handler, loopbackOnly: Set<String>) {
        self.handler = handler
        self.loopbackOnly = loopbackOnly
    }

    /// Nothing read for `idleTimeout` (see `IdleStateHandler` ahead in the pipeline): close.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Back-pressure: answers pile up while the client does not read them, so stop reading its
    /// requests until they drain.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            context.channel.setOption(.autoRead, value: true).whenSuccess { context.read() }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = String(head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        var answer: HTTPResponse
        if loopbackOnly.contains(path) && !HTTPServer.isLoopback(context.channel.remoteAddress?.ipAddress) {
            answer = HTTPResponse(status: 403, headers: ["Content-Type": "text/plain; charset=utf-8"], body: "only from this node's loopback\n")
        } else if head.method == .GET || head.method == .HEAD {
            answer = handler(path)
        } else {
            answer = HTTPResponse(status: 405, headers: ["Allow": "GET, HEAD"], body: "method not allowed\n")
        }
        var headers = HTTPHeaders(answer.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        let body = context.channel.allocator.buffer(string: answer.body)
        headers.replaceOrAdd(name: "Content-Length", value: "\(body.readableBytes)")
        let keepAlive = head.isKeepAlive
        headers.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let responseHead = HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: answer.status), headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let done = context.writeAndFlushPromise()
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        if !keepAlive {
            let channel = context.channel
            done.futureResult.whenComplete { _ in channel.close(promise: nil) }
        } else if !context.channel.isWritable {
            context.channel.setOption(.autoRead, value: false).whenFailure { _ in }
        }
    }
}

/// Connections open on one server, for `Limits.maxConnections`.
private final class OpenConnections: Sendable {
    private let count = Atomic(0)

    /// Counts a new connection in; false (and not counted) when `limit` are open already.
    func admit(limit: Int) -> Bool {
        var current = count.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = count.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func release() { count.subtract(1, ordering: .relaxed) }
}

private extension ChannelHandlerContext {
    func writeAndFlushPromise() -> EventLoopPromise<Void> { eventLoop.makePromise() }
}
