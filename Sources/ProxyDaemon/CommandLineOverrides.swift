import Foundation
import ProxyModel

/// kube-proxy's common flags, applied over the config file (flags win, as in kube-proxy). Each value
/// is checked as the file's would be; an error names the flag.
public struct CommandLineOverrides: Sendable, Equatable {
    public var kubeconfig: String?
    public var hostnameOverride: String?
    public var proxyMode: String?
    public var clusterCIDR: String?
    public var metricsBindAddress: String?
    public var healthzBindAddress: String?
    public var nodePortAddresses: String?
    public var masqueradeAll: Bool?
    public var serviceClusterIPRange: String?

    public init() {}

    public func apply(to config: inout ProxyConfig) throws(ConfigError) {
        func fail(_ flag: String, _ message: String) -> ConfigError {
            ConfigError(file: "command line", key: "--\(flag)", message: message)
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
        if let kubeconfig { config.kubeconfig = kubeconfig; config.source = .kubernetes }
        if let hostnameOverride { config.hostnameOverride = hostnameOverride }
        if let proxyMode {
            guard let mode = ProxyConfig.Mode(rawValue: proxyMode) else {
                throw fail("proxy-mode", "\"\(proxyMode)\" is not one of \(ProxyConfig.Mode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            config.mode = mode
        }
        if let clusterCIDR { config.clusterCIDRs = try cidrs("cluster-cidr", clusterCIDR) }
        if let metricsBindAddress {
            guard BindAddress(metricsBindAddress) != nil else { throw fail("metrics-bind-address", "expected host:port, found \"\(metricsBindAddress)\"") }
            config.metricsBindAddress = metricsBindAddress
        }
        if let healthzBindAddress {
            guard BindAddress(healthzBindAddress) != nil else { throw fail("healthz-bind-address", "expected host:port, found \"\(healthzBindAddress)\"") }
            config.healthzBindAddress = healthzBindAddress
        }
        if let nodePortAddresses { config.nodePortAddresses = nodePortAddresses == "all" ? [] : try cidrs("nodeport-addresses", nodePortAddresses) }
        if let masqueradeAll { config.masqueradeAll = masqueradeAll }
        if let serviceClusterIPRange { config.serviceCIDRs = try cidrs("service-cluster-ip-range", serviceClusterIPRange) }
    }
}
