import NIOCore
import NIOHTTP1
import NIOPosix

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
public final class HTTPServer: Sendable {
    public typealias Handler = @Sendable (_ path: String) -> HTTPResponse

    private let channel: any Channel
    /// The port bound (useful when asked for port 0).
    public let port: Int

    private init(channel: any Channel) {
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    /// Binds `host:port` and serves until `close()`.
    public static func start(host: String, port: Int, handler: @escaping Handler,
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> HTTPServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 128)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(RequestHandler(handler: handler))
                }
            }
            .bind(host: host, port: port)
            .get()
        return HTTPServer(channel: channel)
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
    private var head: HTTPRequestHead?

    init(handler: @escaping HTTPServer.Handler) { self.handler = handler }

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
        if head.method == .GET || head.method == .HEAD {
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
        }
    }
}

private extension ChannelHandlerContext {
    func writeAndFlushPromise() -> EventLoopPromise<Void> { eventLoop.makePromise() }
}
