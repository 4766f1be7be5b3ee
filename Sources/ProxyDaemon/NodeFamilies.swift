import Foundation
import ProxyModel

/// The IP families this node can forward, as kube-proxy decides them from what the kernel
/// supports: IPv4 always; IPv6 unless the kernel has it off. A node booted with `ipv6.disable=1`
/// has no `/proc/net/if_inet6`, and there `ip6tables-restore` and nftables' ip6 nat chains fail: a
/// backend that programmed both families would fail every sync for the missing one.
enum NodeFamilies {
    static func detect(ipv6Probe: String = "/proc/net/if_inet6") -> [IPAddress.Family] {
        FileManager.default.fileExists(atPath: ipv6Probe) ? [.ipv4, .ipv6] : [.ipv4]
    }
}
