import ArgumentParser
import Foundation
import Logging
import ProxyDaemon

@main
struct SwiftKubeProxy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swift-kube-proxy",
        abstract: "A node-level Service proxy and load balancer that replaces kube-proxy.",
        discussion: "The config file is our YAML (see config.example.yaml) or an upstream KubeProxyConfiguration. "
            + "kube-proxy's flags below override the file.\n\n"
            + "Commands after the options: `render` prints the rules it would program (no root); "
            + "`status` prints the running daemon's Service ports, endpoints and counters (from its metrics port, over loopback).",
        version: "\(ProxyDaemon.version) (commit \(gitCommit))")

    @Option(help: "The config file: our YAML, or a kubeproxy.config.k8s.io/v1alpha1 KubeProxyConfiguration.")
    var config: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Flag(help: "Remove everything this program installed on the node, then exit.")
    var cleanup = false

    // kube-proxy's flags, with its spellings.
    @Option(help: "Path to a kubeconfig file (implies the Kubernetes source).")
    var kubeconfig: String?

    @Option(name: .customLong("hostname-override"), help: "The name of this node, instead of the hostname.")
    var hostnameOverride: String?

    @Option(name: .customLong("proxy-mode"), help: "userspace, nftables or iptables.")
    var proxyMode: String?

    @Option(name: .customLong("cluster-cidr"), help: "Pod network ranges, comma-separated.")
    var clusterCIDR: String?

    @Option(name: .customLong("metrics-bind-address"), help: "host:port of /metrics.")
    var metricsBindAddress: String?

    @Option(name: .customLong("healthz-bind-address"), help: "host:port of /healthz and /livez.")
    var healthzBindAddress: String?

    @Option(name: .customLong("nodeport-addresses"), help: "CIDRs (comma-separated) of the node addresses NodePorts are served on, all, or primary.")
    var nodePortAddresses: String?

    @Option(name: .customLong("bind-address"), help: "The node IP override: the node's primary address of its family (0.0.0.0 or ::: none).")
    var bindAddress: String?

    @Option(name: .customLong("masquerade-all"), help: "SNAT all traffic to Service addresses (true or false).")
    var masqueradeAll: Bool?

    @Option(name: .customLong("service-cluster-ip-range"), help: "Service ClusterIP CIDRs (comma-separated): nftables mode drops traffic to unallocated addresses in them.")
    var serviceClusterIPRange: String?

    @Option(name: .customLong("v"), help: "kube-proxy's log verbosity: 0-1 info, 2-4 debug, 5+ trace (overrides --log-level).")
    var verbosity: Int?

    /// kube-proxy's other flags, which a DaemonSet may still pass: taken and named in a warning
    /// (`KubeProxyFlags`); anything else is an error, so a typo is never silently ignored.
    @Argument(parsing: .allUnrecognized, help: .hidden)
    var otherFlags: [String] = []

    func run() async throws {
        let level = verbosity.map { $0 >= 5 ? Logger.Level.trace : $0 >= 2 ? .debug : .info } ?? logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "swift-kube-proxy")
        let ignored: [String]
        let command = otherFlags.first.flatMap { ["render", "status"].contains($0) ? $0 : nil }
        do { ignored = try KubeProxyFlags.ignored(in: command != nil ? Array(otherFlags.dropFirst()) : otherFlags) } catch {
            throw ValidationError("\(error)")
        }
        if !ignored.isEmpty {
            logger.warning("kube-proxy flags not implemented, ignored: \(ignored.joined(separator: " "))")
        }
        if cleanup {
            let base = try config.map { try ProxyConfig.load(file: $0) } ?? ProxyConfig()
            try await ProxyDaemon(config: base, logger: logger).cleanup()
            return
        }
        var overrides = CommandLineOverrides()
        overrides.kubeconfig = kubeconfig
        overrides.hostnameOverride = hostnameOverride
        overrides.proxyMode = proxyMode
        overrides.clusterCIDR = clusterCIDR
        overrides.metricsBindAddress = metricsBindAddress
        overrides.healthzBindAddress = healthzBindAddress
        overrides.nodePortAddresses = nodePortAddresses
        overrides.bindAddress = bindAddress
        overrides.masqueradeAll = masqueradeAll
        overrides.serviceClusterIPRange = serviceClusterIPRange
        var proxyConfig: ProxyConfig
        do {
            proxyConfig = try config.map { try ProxyConfig.load(file: $0) } ?? ProxyConfig()
            let ignoredFlags = try overrides.apply(to: &proxyConfig)
            if !ignoredFlags.isEmpty {
                logger.warning("flags ignored: --config is a KubeProxyConfiguration, which wins over them as in kube-proxy: \(ignoredFlags.joined(separator: " "))")
            }
            if proxyConfig.source == .file && proxyConfig.manifests == nil && command != "status" {
                throw ConfigError(file: "command line", key: "--config", message: "a config file naming the manifests is required")
            }
        } catch {
            throw ValidationError("\(error)")
        }
        if command == "status" {
            // `swift-kube-proxy [--config FILE] [--metrics-bind-address ADDR] status`: what the running daemon serves.
            do { print(try await StatusClient.fetch(StatusClient.url(for: proxyConfig)), terminator: "") } catch {
                throw ValidationError("\(error)")
            }
            return
        }
        if command == "render" {
            // `swift-kube-proxy --config FILE render`: print the rules and exit (no root needed).
            do { print(try RulesetPreview.render(proxyConfig, node: RulesetPreview.currentNode(proxyConfig)), terminator: "") } catch {
                throw ValidationError("\(error)")
            }
            return
        }
        let finalConfig = proxyConfig
        try await StopSignals.runUntilStopped(logger: logger) {
            try await ProxyDaemon(config: finalConfig, logger: logger).run()
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
