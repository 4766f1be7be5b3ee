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

    /// The rule settings with what the node's sysctls decide. Throws when `route_localnet` is needed
    /// and cannot be set: kube-proxy refuses to start then too (localhost NodePort connections
    /// would hang instead of failing).
    static func prepare(_ config: RuleSyncConfig, families: [IPAddress.Family], logger: Logger) throws -> RuleSyncConfig {
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
                throw RouteLocalnetError(description: "iptables.localhostNodePorts needs \(routeLocalnet) = 1 and it cannot be set (\(error)); set iptables.localhostNodePorts: false or leave loopback out of nodePortAddresses")
            }
        }
        return config
    }
}

struct RouteLocalnetError: Error, CustomStringConvertible {
    var description: String
}
