import Foundation
import ProxyModel

/// What the metrics port answers at `/proxyMode` and `/configz`, as kube-proxy serves them: the mode
/// as plain text, and the effective configuration as JSON under `kubeproxy.config.k8s.io`, in
/// KubeProxyConfiguration's field names (the fields we implement).
enum ConfigzBody {
    static func proxyMode(_ config: ProxyConfig) -> HTTPResponse {
        HTTPResponse(status: 200, headers: ["Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"],
                     body: config.mode.rawValue)
    }

    static func configz(_ config: ProxyConfig) -> HTTPResponse {
        func seconds(_ d: Duration) -> String { GoDuration.format(d) }
        var section: [String: Any] = [
            "masqueradeAll": config.masqueradeAll, "masqueradeBit": config.masqueradeBit,
            "syncPeriod": seconds(config.syncPeriod), "minSyncPeriod": seconds(config.minSyncPeriod),
        ]
        var fields: [String: Any] = [
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
            "mode": config.mode.rawValue,
            "clusterCIDR": config.clusterCIDRs.map(\.description).joined(separator: ","),
            // As kube-proxy's defaulting leaves it in its configz: the keyword, not the addresses.
            "nodePortAddresses": config.servesNodePortsOnPrimary ? ["primary"] : config.nodePortAddresses.map(\.description),
            "metricsBindAddress": config.metricsBindAddress, "healthzBindAddress": config.healthzBindAddress,
            "hostnameOverride": config.hostnameOverride ?? "",
            "clientConnection": ["kubeconfig": config.kubeconfig ?? ""],
        ]
        if config.mode != .nftables { section["localhostNodePorts"] = config.localhostNodePorts }
        fields[config.mode == .nftables ? "nftables" : "iptables"] = section
        let data = (try? JSONSerialization.data(withJSONObject: ["kubeproxy.config.k8s.io": fields], options: [.sortedKeys])) ?? Data("{}".utf8)
        return HTTPResponse(status: 200, headers: ProxyHealth.headers, body: String(decoding: data, as: UTF8.self))
    }
}
