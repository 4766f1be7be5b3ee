import Logging
import ProxyModel
import Synchronization

/// The per-Service health check node ports of `externalTrafficPolicy: Local` Services
/// (pkg/proxy/healthcheck/service_health.go): each answers 200 while this node has a local ready
/// endpoint of the Service and the proxy is healthy, else 503, so external load balancers send
/// traffic only to nodes that can serve it without a second hop. Servers open and close as syncs
/// add and remove such Services.
public final class ServiceHealthServers: SyncObserver {
    struct Entry: Sendable, Equatable {
        var service: NamespacedName
        var localEndpoints: Int
    }

    /// nil: all addresses, IPv6 and IPv4 ("::", or "0.0.0.0" where the node has no IPv6).
    private let host: String?
    /// kube-proxy's `nodePortAddresses`: when set, the ports listen on the node IPs it selects only.
    private let nodePortAddresses: [CIDR]
    private let nodeAddresses: @Sendable () -> [IPAddress]
    private let proxyHealthy: @Sendable () -> Bool
    private let logger: Logger
    /// By node port: what its server reports.
    private let entries = Mutex<[Int: Entry]>([:])
    /// By node port: one server per address it listens on.
    private let servers = Mutex<[Int: [HTTPServer]]>([:])

    /// `host` binds every port to that one address (tests); otherwise `nodePortAddresses` decides.
    init(host: String? = nil, nodePortAddresses: [CIDR] = [], nodeAddresses: @escaping @Sendable () -> [IPAddress] = LocalAddresses.current,
         proxyHealthy: @escaping @Sendable () -> Bool, logger: Logger) {
        self.host = host
        self.nodePortAddresses = nodePortAddresses
        self.nodeAddresses = nodeAddresses
        self.proxyHealthy = proxyHealthy
        self.logger = logger
    }

    /// The ports served now.
    public var ports: Set<Int> { servers.withLock { Set($0.keys) } }

    public func synced(_ sync: CompletedSync) async {
        let wanted = Self.entries(for: sync.snapshot)
        entries.withLock { $0 = wanted }
        let (toClose, toOpen) = servers.withLock { open in
            (open.filter { wanted[$0.key] == nil }, wanted.keys.filter { open[$0] == nil }.sorted())
        }
        for (port, open) in toClose {
            for server in open { await server.close() }
            servers.withLock { _ = $0.removeValue(forKey: port) }
        }
        guard !toOpen.isEmpty else { return }
        let hosts: [String]? = host.map { [$0] }
            ?? HealthCheckAddresses.hosts(nodePortAddresses: nodePortAddresses, nodeAddresses: nodeAddresses()).map { $0.map(\.description) }
        if hosts?.isEmpty == true {
            logger.warning("no node address matches nodePortAddresses: health check node ports not opened",
                           metadata: ["nodePortAddresses": "\(nodePortAddresses.map(\.description))"])
        }
        for port in toOpen {
            let handler: HTTPServer.Handler = { [weak self] _ in self?.answer(port: port) ?? .notFound }
            var opened: [HTTPServer] = []
            do {
                if let hosts {
                    for host in hosts { opened.append(try await HTTPServer.start(host: host, port: port, handler: handler)) }
                } else {
                    do {
                        opened.append(try await HTTPServer.start(host: "::", port: port, handler: handler))
                    } catch {
                        opened.append(try await HTTPServer.start(host: "0.0.0.0", port: port, handler: handler))
                    }
                }
                if !opened.isEmpty { servers.withLock { $0[port] = opened } }
            } catch {
                // As kube-proxy: logged, and tried again (on every address) on the next sync.
                for server in opened { await server.close() }
                logger.error("cannot open health check node port", metadata: ["port": "\(port)", "error": "\(error)"])
            }
        }
    }

    /// Closes every server (on shutdown).
    public func closeAll() async {
        for server in servers.withLock({ open in defer { open = [:] }; return open.values.flatMap { $0 } }) { await server.close() }
    }

    func answer(port: Int) -> HTTPResponse {
        guard let entry = entries.withLock({ $0[port] }) else { return .notFound }
        let healthy = proxyHealthy()
        let body = """
            {
            \t"service": {
            \t\t"namespace": \(JSONString.quoted(entry.service.namespace)),
            \t\t"name": \(JSONString.quoted(entry.service.name))
            \t},
            \t"localEndpoints": \(entry.localEndpoints),
            \t"serviceProxyHealthy": \(healthy)
            }
            """
        var headers = ProxyHealth.headers
        headers["X-Load-Balancing-Endpoint-Weight"] = "\(entry.localEndpoints)"
        return HTTPResponse(status: entry.localEndpoints > 0 && healthy ? 200 : 503, headers: headers, body: body)
    }

    /// Health check node ports of `snapshot` and the local ready endpoints (distinct addresses over
    /// all ports) of their Services. Every `externalTrafficPolicy: Local` Service with a
    /// `healthCheckNodePort` (a LoadBalancer) gets one, reachable from outside or not yet (no NodePort
    /// allocated, no ingress IP): upstream's `HealthCheckNodePorts()` asks no more.
    static func entries(for snapshot: ProxySnapshot) -> [Int: Entry] {
        var result: [Int: Entry] = [:]
        var local: [NamespacedName: Set<IPAddress>] = [:]
        for (name, endpoints) in snapshot.endpoints {
            for ep in endpoints where ep.isLocal && ep.isReady { local[name.service, default: []].insert(ep.address) }
        }
        for service in snapshot.sortedServicePorts where service.healthCheckNodePort != 0 && service.externalTrafficPolicy == .local {
            result[service.healthCheckNodePort] = Entry(service: service.name.service, localEndpoints: local[service.name.service]?.count ?? 0)
        }
        return result
    }
}
