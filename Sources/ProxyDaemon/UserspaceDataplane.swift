import Glibc
import Logging
import NFTables
import ProxyModel
import RuleSync
import Synchronization
import UserspaceProxy

/// The userspace proxy as a dataplane: each sync hands it the complete rule list (it diffs
/// listeners and swaps endpoint lists itself, so a full and an incremental sync are the same call).
///
/// With a `redirector` (CAP_NET_ADMIN), every TCP/UDP Service port also gets portals, wildcard
/// listeners at ports of `proxyPortRange`, and nftables redirects send its ClusterIP and ExternalIP
/// traffic there. A sync opens listeners first and points redirects at them second, so a redirect
/// never leads to a port nobody listens on yet. When the redirects cannot be applied, the sync
/// throws (the runner logs, counts and retries it with backoff): the listeners and endpoints are
/// already the new ones and stay, the previous redirects stay too, and since a portal keeps its
/// port those still lead where they should.
final class UserspaceDataplane: Dataplane {
    let name = "userspace"
    let proxy: UserspaceProxy
    private let nodePortCIDRs: [CIDR]
    private let redirector: NFTablesUserspaceRedirector?
    /// ClusterIPs and ExternalIPs are served through nftables redirects (this process may program them).
    var hasRedirector: Bool { redirector != nil }
    private let state: Mutex<State>
    private let logger: Logger

    private struct State {
        var portals: PortalPorts
        /// What the last successful redirect apply installed; nil after a failure.
        var installed: [UserspaceRedirect]?
        var removed = false
    }

    /// A port taken by another program moves a portal to another port; this many tries per sync.
    static let listenAttempts = 3

    init(proxy: UserspaceProxy, nodePortAddresses: [CIDR], redirector: NFTablesUserspaceRedirector? = nil,
         proxyPortRange: ClosedRange<Int> = 61000...65535, logger: Logger) {
        self.proxy = proxy
        nodePortCIDRs = nodePortAddresses
        self.redirector = redirector
        state = Mutex(State(portals: PortalPorts(range: proxyPortRange)))
        self.logger = logger
    }

    /// The redirector if this process may program nftables, else nil after one warning: the first
    /// apply (an empty table) is the test, and it also clears redirects a killed run left behind.
    static func redirector(logger: Logger, make: () throws -> NFTablesUserspaceRedirector = { try NFTablesUserspaceRedirector() })
        -> NFTablesUserspaceRedirector? {
        do {
            let redirector = try make()
            try redirector.apply([])
            return redirector
        } catch {
            let reason = deniesPermission(error) ? "no CAP_NET_ADMIN" : "nftables refused (\(error))"
            logger.warning("\(reason): userspace mode serves NodePorts only; ClusterIPs and ExternalIPs need nftables redirects")
            return nil
        }
    }

    private static func deniesPermission(_ error: any Error) -> Bool {
        switch error as? NFTError {
        case .system(_, let code)?, .commandFailed(_, _, let code)?: code == EPERM || code == EACCES
        default: false
        }
    }

    func apply(_ snapshot: ProxySnapshot, diff: SnapshotDiff, full: Bool) async throws {
        // Node addresses are read on every sync: an address added to the node starts serving NodePorts
        // by the next periodic resync at the latest.
        let addresses = NodePortAddresses.select(nodePortCIDRs, from: LocalAddresses.current())
        let nodePortRules = UserspaceRules.rules(for: snapshot, nodePortAddresses: addresses)
        guard let redirector else {
            // A port another process holds is logged, not retried at once: the next full resync tries again.
            for failure in proxy.apply(nodePortRules) { logger.error("\(failure)") }
            return
        }
        let listening = openPortals(snapshot, besides: nodePortRules)
        let redirects = UserspaceRedirect.redirects(
            for: snapshot,
            clusterIPListeners: Dictionary(uniqueKeysWithValues: listening.compactMap { $0.key.frontend == .clusterIP ? ($0.key.servicePort, $0.value) : nil }),
            externalIPListeners: Dictionary(uniqueKeysWithValues: listening.compactMap { $0.key.frontend == .externalIP ? ($0.key.servicePort, $0.value) : nil }))
        try state.withLock { state in
            guard !state.removed, full || state.installed != redirects else { return }
            do {
                try redirector.apply(redirects)
                state.installed = redirects
            } catch {
                state.installed = nil
                throw RedirectFailure(underlying: error)
            }
        }
    }

    /// Applies the NodePort and portal rules; a portal whose port another program holds moves to
    /// the next free one. Returns the portals that listen, with their ports.
    private func openPortals(_ snapshot: ProxySnapshot, besides nodePortRules: [ForwardingRule]) -> [PortalKey: Int] {
        let wanted = UserspaceRules.portals(in: snapshot)
        let reserved = UserspaceRules.nodePorts(in: snapshot)
        for attempt in 1...Self.listenAttempts {
            let ports = state.withLock { state in
                state.portals.update(wanted: wanted, reserved: reserved)
                return state.portals.ports
            }
            if ports.count < wanted.count {
                logger.error("userspace.proxyPortRange has no free port left: \(wanted.count - ports.count) portals without a listener")
            }
            let portalOfRule = Dictionary(uniqueKeysWithValues: ports.keys.map { (UserspaceRules.ruleName($0.servicePort, $0.frontend), $0) })
            var busy: Set<PortalKey> = []
            for failure in proxy.apply(nodePortRules + UserspaceRules.portalRules(for: snapshot, ports: ports)) {
                if let key = portalOfRule[failure.rule] { busy.insert(key) } else { logger.error("\(failure)") }
            }
            guard !busy.isEmpty else { return ports }
            state.withLock { state in for key in busy { state.portals.portIsTaken(for: key) } }
            if attempt == Self.listenAttempts {
                logger.error("portals without a listener until the next sync", metadata: ["count": "\(busy.count)"])
                return ports.filter { !busy.contains($0.key) }
            }
        }
        return [:]
    }

    /// At shutdown: the portals close with the process, and a redirect to a closed port would
    /// refuse ClusterIP traffic until the next start, so the redirect tables go first. Flows
    /// already redirected keep their NAT in conntrack and drain normally.
    func removeRedirects() {
        guard let redirector else { return }
        state.withLock { state in
            state.removed = true
            do {
                try redirector.cleanup()
                logger.info("nftables redirects removed")
            } catch {
                logger.error("cannot remove the nftables redirects", metadata: ["error": "\(error)"])
            }
        }
    }

    struct RedirectFailure: Error, CustomStringConvertible {
        var underlying: any Error
        var description: String { "nftables redirects not applied (listeners are up, the previous redirects stay): \(underlying)" }
    }
}
