import Conntrack
import Dispatch
import FileSource
import Foundation
import KubernetesSource
import Logging
import Metrics
import Prometheus
import ProxyModel
import RuleSync
import Synchronization
import UserspaceProxy

/// Wires a config into running parts: a source feeding the store, the sync runner, the dataplane.
public struct ProxyDaemon: Sendable {
    public let config: ProxyConfig
    public let logger: Logger
    /// Tests stand in their own source for the configured one: it gets the store and returns
    /// the part that keeps it current.
    var sourceOverride: (@Sendable (ClusterStore) -> @Sendable () async throws -> Void)?

    public init(config: ProxyConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// How long open relays may finish after SIGTERM before they are reset.
    static let shutdownGracePeriod: Duration = .seconds(5)

    /// The Node's name: `hostnameOverride`, else the hostname, lower-cased as kubelet registers it.
    public var nodeName: String {
        if let name = config.hostnameOverride, !name.isEmpty { return name.lowercased() }
        return ProcessInfo.processInfo.hostName.lowercased()
    }

    /// Runs until the task is cancelled (SIGTERM/SIGINT in the executable). Start-up errors
    /// (unreadable manifests, say) are thrown before anything is programmed.
    public func run() async throws {
        for warning in config.warnings { logger.warning("\(warning)") }
        if let conntrack = config.conntrack { ConntrackSysctls.apply(conntrack, logger: logger) }
        // Until a Node object says otherwise, the primary addresses are the default route's.
        let startNode = NodeInfo(name: nodeName, addresses: LocalAddresses.current(), primaryAddresses: PrimaryNodeAddresses.detect())
        let store = ClusterStore(node: startNode)
        let families = NodeFamilies.detect()
        let metrics = ProxyMetrics(families: families)
        let untilNode = config.source == .kubernetes && config.servesNodePortsOnPrimary ? " (until the Node object names its addresses)" : ""
        logger.info("NodePorts are served on \(config.nodePortAddressesDescription(node: startNode, families: families))\(untilNode)")
        Self.bootstrapMetricsSystem(metrics.registry)
        let source = try sourceOverride.map { $0(store) } ?? startSource(store: store, metrics: metrics)
        let dataplane = try makeDataplane(metrics: metrics.sync, node: startNode, families: families)
        if let userspace = dataplane as? UserspaceDataplane {
            let perService = UserspaceMetrics(registry: metrics.registry, statistics: { userspace.proxy.statistics() },
                                              servicePort: UserspaceRules.servicePortLabel(ofRule:))
            metrics.addCollector { perService.collect() }
        }

        let status = SyncStatus()
        let health = ProxyHealth(status: status, syncPeriod: config.syncPeriod, store: store, metrics: metrics.sync)
        let serviceHealth = ServiceHealthServers(nodePortAddresses: config.nodePortAddresses(resolvedFor: startNode), proxyHealthy: { health.isHealthy },
                                                 logger: logger)
        var observers: [any SyncObserver] = []
        if dataplane.natsInKernel {
            // Only the rule modes follow the Node's primary address; the others keep what they took at start.
            observers.append(NodePortAddressLog(config: config, startNode: startNode, families: families, logger: logger))
            observers.append(ConntrackCleaner(conntrack: try Conntrack(), metrics: metrics.sync, logger: logger))
        }
        observers.append(serviceHealth)
        // A node that ran another mode before keeps its rules until ours are in force, then loses them.
        if dataplane.natsInKernel || (dataplane as? UserspaceDataplane)?.hasRedirector == true {
            observers.append(OtherModesCleanup(config: config, logger: logger))
        }
        let lastProgrammed = LastProgrammed()
        observers.append(lastProgrammed)
        observers.append(ReadinessNotifier())
        let runner = SyncRunner(store: store, dataplane: dataplane, minSyncPeriod: config.minSyncPeriod,
                                syncPeriod: config.syncPeriod, status: status, metrics: metrics.sync,
                                observers: observers, logger: logger)

        let servers = OpenServers()
        // A source that fails (the API unreachable for good, say) stops the program like SIGTERM
        // does, through the same ordered shutdown below, and then its error is thrown.
        var failure: (any Error)?
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await source() }
                group.addTask { await runner.run() }
                let statusPage: @Sendable () -> String = { [mode = config.mode.rawValue] in
                    StatusReport.render(mode: mode, status: status.current, snapshot: lastProgrammed.current,
                                        counters: (dataplane as? UserspaceDataplane).map { StatusReport.perServicePort($0.proxy.statistics()) })
                }
                group.addTask { await self.serve(metrics: metrics, health: health, status: statusPage, into: servers) }
                // The parts run until cancelled; whichever ends first ends the others.
                try await group.next()
                group.cancelAll()
            }
        } catch where Task.isCancelled {
            // Stopped by a signal: a part that threw on its way out (the source's cancelled watch)
            // did not fail, and the exit stays clean.
        } catch {
            logger.error("stopping: the source failed", metadata: ["error": "\(error)"])
            failure = error
        }
        SystemdNotify.send("STOPPING=1")
        if let userspace = dataplane as? UserspaceDataplane {
            userspace.removeRedirects()
            logger.info("draining open connections", metadata: ["gracePeriod": "\(Self.shutdownGracePeriod)"])
            await userspace.proxy.shutdown(gracePeriod: Self.shutdownGracePeriod)
        }
        await serviceHealth.closeAll()
        for server in servers.all { await server.close() }
        store.finish()
        if let failure { throw failure }
    }

    /// Reads what must be there before anything is programmed (the manifests; the Kubernetes
    /// connection settings), and returns the part that keeps the store current until cancelled.
    private func startSource(store: ClusterStore, metrics: ProxyMetrics) throws -> @Sendable () async throws -> Void {
        switch config.source {
        case .file:
            let source = FileSource(path: config.manifests ?? "", store: store, logger: logger, proxyName: config.serviceProxyName)
            let reloads = ManifestReloadMetrics(registry: metrics.registry, source: source)
            metrics.addCollector { reloads.collect() }
            let initial = try source.loadInitial()
            logger.info("manifests loaded", metadata: ["path": "\(config.manifests ?? "")", "services": "\(initial.manifests.services.count)",
                                                       "endpointSlices": "\(initial.manifests.slices.count)"])
            return { await source.watch(from: initial) }
        case .kubernetes:
            let source = try KubernetesSource(
                config: KubernetesSourceConfig(
                    kubeconfigPath: config.kubeconfig, nodeName: nodeName, proxyName: config.serviceProxyName,
                    endpointsSource: config.endpointsSource == .endpoints ? .endpoints : .endpointSlices,
                    metricsFactory: metrics.metricsFactory),
                store: store, logger: logger)
            logger.info("watching the Kubernetes API", metadata: ["node": "\(nodeName)"])
            return { try await source.run() }
        }
    }

    /// `/metrics` on metricsBindAddress, `/healthz` + `/livez` on healthzBindAddress (port 0 in either
    /// turns that server off). As in kube-proxy, a port that cannot be bound is not fatal: it is
    /// logged and tried again every 5 seconds. Returns when every server is bound (or on cancellation).
    /// `/status` (the `status` command's) answers loopback clients only: it lists every Service and
    /// endpoint, and the metrics port often listens on all addresses for Prometheus.
    private func serve(metrics: ProxyMetrics, health: ProxyHealth, status: @escaping @Sendable () -> String, into servers: OpenServers) async {
        let metricsHandler: HTTPServer.Handler = { path in
            switch path {
            case "/metrics": HTTPResponse(status: 200, headers: ["Content-Type": ProxyMetrics.contentType], body: metrics.render())
            case "/healthz": health.livez()
            case "/proxyMode": ConfigzBody.proxyMode(config)
            case "/configz": ConfigzBody.configz(config)
            case "/status": HTTPResponse(status: 200, headers: ["Content-Type": "text/plain; charset=utf-8"], body: status())
            default: .notFound
            }
        }
        let wanted: [(String, String, Set<String>, HTTPServer.Handler)] = [
            ("metrics", config.metricsBindAddress, ["/status"], metricsHandler),
            ("healthz", config.healthzBindAddress, [], { health.handle($0) }),
        ]
        await withTaskGroup(of: Void.self) { group in
            for (name, text, loopbackOnly, handler) in wanted {
                guard let address = BindAddress(text), address.port != 0 else { continue }
                group.addTask {
                    while !Task.isCancelled {
                        do {
                            let server = try await HTTPServer.start(host: "\(address.host)", port: address.port, loopbackOnly: loopbackOnly,
                                                                  handler: handler)
                            servers.add(server)
                            logger.info("serving \(name)", metadata: ["address": "\(address)"])
                            return
                        } catch {
                            logger.error("cannot serve \(name), retrying in 5s", metadata: ["address": "\(address)", "error": "\(error)"])
                            try? await Task.sleep(for: .seconds(5))
                        }
                    }
                }
            }
        }
        // Bound (or told to stop): wait for cancellation with the other parts.
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
    }

    private static let metricsBootstrapped = Mutex(false)

    /// Routes swift-metrics (`Counter(label:)` etc. in any module) into the same registry, once per process.
    private static func bootstrapMetricsSystem(_ registry: PrometheusCollectorRegistry) {
        let first = metricsBootstrapped.withLock { done in defer { done = true }; return !done }
        if first { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }
    }

    /// `--cleanup`: removes what this program installed on the node, and nothing else, then returns.
    /// Each mode has its own step in `cleanupSteps` (userspace: the redirect table, deleted on a
    /// clean exit anyway, left by a killed run; iptables: our chains and jumps; nftables: our
    /// tables), all run whatever the configured mode; conntrack state is left alone.
    public func cleanup() async throws {
        // The steps run iptables-save/-restore and wait for them: on a dispatch thread, never on the
        // main thread or the cooperative pool (a child's exit is not reaped while those are blocked).
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue(label: "swift-kube-proxy.cleanup").async {
                continuation.resume(with: Result { try self.runCleanupSteps() })
            }
        }
    }

    private func runCleanupSteps() throws {
        var failures: [String] = []
        for step in Self.cleanupSteps {
            do {
                try step.run(config, logger)
                logger.info("cleaned up", metadata: ["backend": "\(step.mode)"])
            } catch {
                failures.append("\(step.mode): \(error)")
            }
        }
        if !failures.isEmpty { throw CleanupError(failures: failures) }
    }

    /// The rule backends' cleanup steps, run in order by `cleanup()`. Each must remove only objects
    /// this program created and succeed when there is nothing to remove.
    static let cleanupSteps: [(mode: ProxyConfig.Mode, run: @Sendable (ProxyConfig, Logger) throws -> Void)] = [
        // The redirect table of each family (`swift-kube-proxy-userspace`).
        (.userspace, { _, _ in try NFTablesUserspaceRedirector(families: NodeFamilies.detect()).cleanup() }),
        // Our SKP- chains and the jumps to them, in whichever iptables (nft, legacy) holds them.
        (.iptables, { config, _ in try IPTablesBackend(config: config.ruleSyncConfig, variant: .auto, families: NodeFamilies.detect()).cleanup() }),
        // Our table of each family (`swift-kube-proxy`); nothing else.
        (.nftables, { config, _ in
            try NFTablesBackend(config: config.ruleSyncConfig, families: NodeFamilies.detect(), cleansConntrack: false).cleanup()
        }),
    ]

    public struct CleanupError: Error, CustomStringConvertible {
        public var failures: [String]
        public var description: String { "cleanup failed: " + failures.joined(separator: "; ") }
    }

    private func makeDataplane(metrics: SyncMetrics?, node: NodeInfo, families: [ProxyModel.IPAddress.Family]) throws -> any Dataplane {
        if families == [.ipv4] { logger.info("IPv6 is off on this node: programming IPv4 only") }
        switch config.mode {
        case .userspace:
            var tuning = ProxyTuning()
            if config.userspace.eventLoops > 0 { tuning.eventLoops = config.userspace.eventLoops }
            tuning.dialTimeout = config.userspace.dialTimeout
            tuning.tcpIdleTimeout = config.userspace.tcpIdleTimeout
            tuning.udpFlowTimeout = config.userspace.udpFlowTimeout
            tuning.maxUDPFlowsPerRule = config.userspace.maxUDPFlowsPerRule
            tuning.maxUDPFlowsPerLoop = config.userspace.maxUDPFlowsPerLoop
            tuning.pipeSize = config.userspace.pipeSize
            tuning.bufferSize = config.userspace.bufferSize
            let proxy = try UserspaceProxy(tuning: tuning, logger: logger)
            let redirector = config.userspace.redirects
                ? UserspaceDataplane.redirector(logger: logger, make: { try NFTablesUserspaceRedirector(families: families) }) : nil
            return UserspaceDataplane(proxy: proxy, nodePortAddresses: config.nodePortAddresses(resolvedFor: node), redirector: redirector,
                                      proxyPortRange: config.userspace.proxyPortRange, logger: logger)
        case .iptables:
            // Stale conntrack flows are deleted by the daemon's ctnetlink cleaner after each sync, not
            // by the backend's conntrack(8) fallback.
            let ruleConfig = IPTablesSysctls.prepare(config.ruleSyncConfig, families: families, logger: logger)
            let backend = IPTablesBackend(config: ruleConfig, variant: config.ipTablesVariantChoice, families: families,
                                          cleansConntrack: false)
            return RuleSyncDataplane(name: "iptables", backend: backend, metrics: metrics, logger: logger)
        case .nftables:
            // As for iptables, stale conntrack flows are the daemon's ctnetlink cleaner's job.
            let backend = try NFTablesBackend(config: config.ruleSyncConfig, families: families, cleansConntrack: false)
            // As kube-proxy's nftables mode: a sync sends what changed, and a full one runs hourly (every
            // full sync rewrites all rules, 2 s of CPU at 10,000 Services).
            return RuleSyncDataplane(name: "nftables", backend: backend, fullSyncPeriod: .seconds(3600), metrics: metrics, logger: logger)
        }
    }
}

/// The HTTP servers bound so far, closed on shutdown.
final class OpenServers: Sendable {
    private let servers = Mutex<[HTTPServer]>([])
    func add(_ server: HTTPServer) { servers.withLock { $0.append(server) } }
    var all: [HTTPServer] { servers.withLock { $0 } }
}
