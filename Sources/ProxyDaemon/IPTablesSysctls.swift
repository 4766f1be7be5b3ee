import Foundation
import Logging
import ProxyModel
import RuleSync

/// The node sysctls iptables mode reads and sets at start-up, as kube-proxy's iptables proxier does:
/// `route_localnet` for localhost NodePorts, and `nf_conntrack_tcp_be_liberal`, which makes the
/// forward path's `ctstate INVALID` drop unneeded. They are per network namespace: the daemon's.
enum IPTablesSysctls {
    static let routeLocalnet = "/proc/sys/net/ipv4/conf/all/route_localnet"
    static let tcpBeLiberal = "/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal"

    /// The rule settings with what the node's sysctls decide. When `route_localnet` is needed and
    /// cannot be set (a non-privileged pod: /proc/sys read-only), localhost NodePorts are left out
    /// with a warning, so 127.0.0.1 connections are refused rather than hang; kube-proxy refuses to
    /// start instead, which took our DaemonSet down in iptables mode (the cluster test showed it).
    static func prepare(_ config: RuleSyncConfig, families: [IPAddress.Family], logger: Logger) -> RuleSyncConfig {
        var config = config
        // Read after ConntrackSysctls applied the config's `conntrack.tcpBeLiberal`, as upstream.
        config.conntrackTCPLiberal = (ConntrackSysctls.read(tcpBeLiberal) ?? 0) != 0
        guard families.contains(.ipv4), IPTablesRenderer(config: config, family: .ipv4).servesLocalhostNodePorts else {
            return config
        }
        if ConntrackSysctls.read(routeLocalnet) != 1 {
            logger.info("setting route_localnet=1 to allow NodePorts on localhost; to change this set iptables.localhostNodePorts to false or nodePortAddresses to leave out 127.0.0.0/8")
            do {
                try "1\n".write(toFile: routeLocalnet, atomically: false, encoding: .utf8)
            } catch {
                logger.warning("no NodePorts on localhost: iptables.localhostNodePorts needs \(routeLocalnet) = 1 and it cannot be set (\(error)); set it on the node, or iptables.localhostNodePorts: false to silence this")
                config.localhostNodePorts = false
            }
        }
        return config
    }
}
