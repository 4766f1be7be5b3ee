import Dispatch
import Logging
import Synchronization

/// After the first sync of this mode, removes the rules our other modes left on the node (a node
/// switched from `iptables` to `nftables` would otherwise keep DNATing ClusterIPs to pods that are
/// gone), as kube-proxy cleans up its other modes when it starts. Only after that first sync, so
/// no Service is unserved in between. Only our own objects: kube-proxy's leftovers are its own
/// `--cleanup`'s job. A failure is logged and not retried: the rules of this mode are in force.
final class OtherModesCleanup: SyncObserver {
    private let config: ProxyConfig
    private let logger: Logger
    private let done = Mutex(false)

    init(config: ProxyConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    func synced(_ sync: CompletedSync) async {
        guard done.withLock({ done in defer { done = true }; return !done }) else { return }
        let (config, logger) = (self.config, self.logger)
        let steps = ProxyDaemon.cleanupSteps.filter { $0.mode != config.mode }
        // iptables-save/-restore are waited for: on a dispatch thread, not the cooperative pool.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                for step in steps {
                    do {
                        try step.run(config, logger)
                        logger.debug("removed the rules of another mode, if any", metadata: ["mode": "\(step.mode)"])
                    } catch {
                        logger.warning("could not remove the rules of another mode", metadata: ["mode": "\(step.mode)", "error": "\(error)"])
                    }
                }
                continuation.resume()
            }
        }
    }
}
