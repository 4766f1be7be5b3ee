import Foundation
import Logging
import Metrics
import ProxyModel

/// The proxy's real source: lists and watches Services, endpoints (EndpointSlices, or v1/Endpoints)
/// and our own Node on the API server, and records them in the `ClusterStore`.
public final class KubernetesSource: Sendable {
    /// The names under which each reflector's first complete LIST is awaited before the first sync.
    public static let syncNames = ["kubernetes/services", "kubernetes/endpoints", "kubernetes/node"]

    public let config: KubernetesSourceConfig
    public let connection: ClusterConnection
    private let store: ClusterStore
    private let logger: Logger
    private let credentials: RequestCredentials

    /// Resolves the connection (throwing `ConnectionConfigError` that says what is missing and
    /// where it looked) and declares the initial syncs the store must wait for.
    public init(config: KubernetesSourceConfig, store: ClusterStore, logger: Logger) throws {
        self.config = config
        self.store = store
        self.logger = logger
        connection = try ClusterConnection.resolve(
            kubeconfigPath: config.kubeconfigPath, context: config.context, environment: config.environment,
            serviceAccountDirectory: config.serviceAccountDirectory)
        credentials = try RequestCredentials(connection: connection)
        for name in Self.syncNames { store.expectInitialSync(of: name) }
    }

    /// Lists and watches until cancelled; cancellation ends every watch at once.
    public func run() async throws {
        let client = try APIClient(connection: connection, stallTimeout: config.reflector.stallTimeout,
                               connectTimeout: config.reflector.connectTimeout, credentials: credentials)
        logger.info("watching \(connection.server) (\(connection.origin)) for node \(config.nodeName)")
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.reflect(ServiceResource(proxyName: self.config.proxyName), "kubernetes/services", client) }
                group.addTask { try await self.reflectEndpoints(client) }
                group.addTask { try await self.reflect(NodeResource(nodeName: self.config.nodeName), "kubernetes/node", client) }
                try await group.waitForAll()
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func reflect<R: ReflectedResource>(_ resource: R, _ syncName: String, _ client: APIClient) async throws {
        let reflector = Reflector(resource: resource, client: client, store: store, syncName: syncName,
                                  settings: config.reflector, logger: logger, metrics: SourceMetrics(factory: config.metricsFactory ?? MetricsSystem.factory))
        try await reflector.run()
    }

    private func reflectEndpoints(_ client: APIClient) async throws {
        var api = EndpointsAPI.endpoints
        if config.endpointsSource == .endpointSlices {
            var backoff = config.reflector.backoff
            while true {
                do {
                    api = try await EndpointsAPI.discover(client: client)
                    break
                } catch {
                    if Task.isCancelled { throw CancellationError() }
                    let wait = backoff.next()
                    logger.warning("cannot ask the API server which EndpointSlice version it serves, retrying in \(wait): \(error)")
                    try await Task.sleep(for: wait)
                }
            }
        }
        logger.info("reading endpoints from \(api)")
        switch api {
        case .endpointSlices(let version):
            try await reflect(EndpointSliceResource(version: version, proxyName: config.proxyName), "kubernetes/endpoints", client)
        case .endpoints:
            try await reflect(EndpointsResource(proxyName: config.proxyName), "kubernetes/endpoints", client)
        }
    }
}
