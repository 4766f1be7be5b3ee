import FileSource
import Foundation
import Logging
import ProxyModel
import RuleSync
import UserspaceProxy

/// Wires a config into running parts: a source feeding the store, the sync runner, the dataplane.
public struct ProxyDaemon: Sendable {
    public let config: ProxyConfig
    public let logger: Logger

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
        let store = ClusterStore(node: NodeInfo(name: nodeName, addresses: LocalAddresses.current()))
        let source = FileSource(path: config.manifests ?? "", store: store, logger: logger)
        let initial = try source.loadInitial()
        logger.info("manifests loaded", metadata: ["path": "\(config.manifests ?? "")",
                                                   "services": "\(initial.manifests.services.count)", "endpointSlices": "\(initial.manifests.slices.count)"])

        let dataplane = try makeDataplane()
        let runner = SyncRunner(store: store, dataplane: dataplane, minSyncPeriod: config.minSyncPeriod,
                                syncPeriod: config.syncPeriod, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await source.watch(from: initial) }
            group.addTask { await runner.run() }
            // Both parts run until cancelled; whichever ends first ends the other.
            try await group.next()
            group.cancelAll()
        }
        if let userspace = dataplane as? UserspaceDataplane {
            logger.info("draining open connections", metadata: ["gracePeriod": "\(Self.shutdownGracePeriod)"])
            await userspace.proxy.shutdown(gracePeriod: Self.shutdownGracePeriod)
        }
        store.finish()
    }

    private func makeDataplane() throws -> any Dataplane {
        switch config.mode {
        case .userspace:
            var tuning = ProxyTuning()
            if config.userspace.eventLoops > 0 { tuning.eventLoops = config.userspace.eventLoops }
            tuning.dialTimeout = config.userspace.dialTimeout
            tuning.tcpIdleTimeout = config.userspace.tcpIdleTimeout
            tuning.udpFlowTimeout = config.userspace.udpFlowTimeout
            tuning.pipeSize = config.userspace.pipeSize
            tuning.bufferSize = config.userspace.bufferSize
            let proxy = try UserspaceProxy(tuning: tuning, logger: logger)
            return UserspaceDataplane(proxy: proxy, nodePortAddresses: config.nodePortAddresses, logger: logger)
        case .iptables:
            let backend = IPTablesBackend(config: config.ruleSyncConfig, variant: config.ipTablesVariantChoice)
            return RuleSyncDataplane(name: "iptables", backend: backend, logger: logger)
        case .nftables:
            throw ConfigError(file: "", key: "mode", message: "\"\(config.mode.rawValue)\" is not built yet")
        }
    }
}
