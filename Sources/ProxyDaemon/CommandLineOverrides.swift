import Foundation
import ProxyModel

/// kube-proxy's common flags, applied over our own config file (flags win). Over a
/// `KubeProxyConfiguration` the file wins, as kube-proxy's `--config` does: only `--hostname-override`
/// applies, and `--metrics-bind-address`, which our DaemonSet needs to put /metrics on the node's own
/// address (a per-node value no ConfigMap can hold). Each value is checked as the file's would be; an
/// error names the flag.
public struct CommandLineOverrides: Sendable, Equatable {
    public var kubeconfig: String?
    public var hostnameOverride: String?
    public var proxyMode: String?
    public var clusterCIDR: String?
    public var metricsBindAddress: String?
    public var healthzBindAddress: String?
    public var nodePortAddresses: String?
    /// kube-proxy's `--bind-address`: a node IP override unless it is 0.0.0.0 or ::.
    public var bindAddress: String?
    public var masqueradeAll: Bool?
    public var serviceClusterIPRange: String?

    public init() {}

    /// The flags given that a `KubeProxyConfiguration` file makes kube-proxy ignore.
    public var ignoredWithKubeProxyConfiguration: [String] {
        [("--kubeconfig", kubeconfig != nil), ("--proxy-mode", proxyMode != nil), ("--cluster-cidr", clusterCIDR != nil),
         ("--healthz-bind-address", healthzBindAddress != nil),
         ("--nodeport-addresses", nodePortAddresses != nil), ("--masquerade-all", masqueradeAll != nil),
         ("--bind-address", self.bindAddress != nil)]
            .filter(\.1).map(\.0)
    }

    /// Applies the flags; returns those ignored because the file is a `KubeProxyConfiguration`.
    @discardableResult
    public func apply(to config: inout ProxyConfig) throws(ConfigError) -> [String] {
        func fail(_ flag: String, _ message: String) -> ConfigError {
            ConfigError(file: "command line", key: "--\(flag)", message: message)
        }
        func bindAddress(_ flag: String, _ text: String) throws(ConfigError) -> String {
            guard BindAddress(text) != nil else { throw fail(flag, "expected host:port, found \"\(text)\"") }
            return text
        }
        func cidrs(_ flag: String, _ text: String) throws(ConfigError) -> [CIDR] {
            var result: [CIDR] = []
            for part in text.split(separator: ",") {
                let item = part.trimmingCharacters(in: .whitespaces)
                guard let cidr = CIDR(item) else { throw fail(flag, "\"\(item)\" is not an IP address or CIDR") }
                result.append(cidr)
            }
            return result
        }
        if config.isKubeProxyConfiguration {
            if let hostnameOverride { config.hostnameOverride = hostnameOverride }
            if let metricsBindAddress { config.metricsBindAddress = try bindAddress("metrics-bind-address", metricsBindAddress) }
            // The file has no field for it: the flag is the only way to give it.
            if let serviceClusterIPRange { config.serviceCIDRs = try cidrs("service-cluster-ip-range", serviceClusterIPRange) }
            return ignoredWithKubeProxyConfiguration
        }
        if let kubeconfig { config.kubeconfig = kubeconfig; config.source = .kubernetes }
        if let hostnameOverride { config.hostnameOverride = hostnameOverride }
        if let proxyMode {
            guard let mode = ProxyConfig.Mode(rawValue: proxyMode) else {
                throw fail("proxy-mode", "\"\(proxyMode)\" is not one of \(ProxyConfig.Mode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            config.mode = mode
        }
        if let clusterCIDR { config.clusterCIDRs = try cidrs("cluster-cidr", clusterCIDR) }
        if let metricsBindAddress { config.metricsBindAddress = try bindAddress("metrics-bind-address", metricsBindAddress) }
        if let healthzBindAddress { config.healthzBindAddress = try bindAddress("healthz-bind-address", healthzBindAddress) }
        if let nodePortAddresses {
            switch nodePortAddresses {
            case "primary": config.setNodePortAddresses(.primary)
            case "all": config.setNodePortAddresses(.cidrs([]))
            default: config.setNodePortAddresses(.cidrs(try cidrs("nodeport-addresses", nodePortAddresses)))
            }
        }
        if let masqueradeAll { config.masqueradeAll = masqueradeAll }
        if let serviceClusterIPRange { config.serviceCIDRs = try cidrs("service-cluster-ip-range", serviceClusterIPRange) }
        if let nodeIP = self.bindAddress {
            guard let ip = IPAddress(sloppy: nodeIP) else { throw fail("bind-address", "\"\(nodeIP)\" is not an IP address") }
            config.nodeIPOverride = ip.isUnspecified ? [] : [ip]
        }
        return []
    }
}
