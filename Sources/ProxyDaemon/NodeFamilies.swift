import Foundation
import ProxyModel

/// The IP families this node can forward, as kube-proxy decides them from what the kernel
/// supports: IPv4 always; IPv6 unless it is off. A node booted with `ipv6.disable=1` has no
/// `/proc/net/if_inet6`, and there `ip6tables-restore` and nftables' ip6 nat chains fail: a backend
/// that programmed both families would fail every sync for the missing one. IPv6 switched off with
/// `net.ipv6.conf.all.disable_ipv6=1` (in this network namespace) leaves the node no IPv6 address
/// to serve, so it is not programmed either.
enum NodeFamilies {
    static func detect(ipv6Probe: String = "/proc/net/if_inet6",
                       disabledSetting: String = "/proc/sys/net/ipv6/conf/all/disable_ipv6") -> [IPAddress.Family] {
        guard FileManager.default.fileExists(atPath: ipv6Probe) else { return [.ipv4] }
        let disabled = (try? String(contentsOfFile: disabledSetting, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
        return disabled ? [.ipv4] : [.ipv4, .ipv6]
    }
}
