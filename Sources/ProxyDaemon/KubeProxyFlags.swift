/// kube-proxy's command-line flags that we accept without implementing, so that a DaemonSet
/// switched to this image keeps starting: each is named in one warning. An argument that is not a
/// kube-proxy flag at all is an error.
public enum KubeProxyFlags {
    public struct Unknown: Error, CustomStringConvertible {
        public var argument: String
        public var description: String { "unknown argument \(argument) (neither ours nor kube-proxy's)" }
    }

    /// Flags of kube-proxy (cmd/kube-proxy/app/options.go) that we do not implement.
    static let accepted: Set<String> = [
        "bind-address-hard-fail", "cleanup-iptables", "config-sync-period",
        "conntrack-max-per-core", "conntrack-min", "conntrack-tcp-be-liberal", "conntrack-tcp-timeout-close-wait",
        "conntrack-tcp-timeout-established", "conntrack-udp-timeout", "conntrack-udp-timeout-stream",
        "detect-local-mode", "feature-gates", "healthz-port", "init-only", "iptables-localhost-nodeports",
        "iptables-masquerade-bit", "iptables-min-sync-period", "iptables-sync-period", "ipvs-exclude-cidrs",
        "ipvs-min-sync-period", "ipvs-scheduler", "ipvs-strict-arp", "ipvs-sync-period", "ipvs-tcp-timeout",
        "ipvs-tcpfin-timeout", "ipvs-udp-timeout", "kube-api-burst", "kube-api-content-type", "kube-api-qps",
        "log-flush-frequency", "logging-format", "master", "metrics-port", "nodeport-addresses-primary",
        "oom-score-adj", "pod-bridge-interface", "pod-interface-name-prefix", "profiling", "proxy-port-range",
        "show-hidden-metrics-for-version", "write-config-to", "alsologtostderr", "log-backtrace-at", "log-dir",
        "log-file", "log-file-max-size", "logtostderr", "one-output", "skip-headers", "skip-log-headers",
        "stderrthreshold", "vmodule",
    ]

    /// The kube-proxy flags among `arguments` (as `--name=value`, `--name value` or `--name`), or an
    /// error naming the first argument that is none.
    public static func ignored(in arguments: [String]) throws(Unknown) -> [String] {
        var result: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("-") else { throw Unknown(argument: argument) }
            let body = argument.drop { $0 == "-" }
            let name = String(body.prefix { $0 != "=" })
            guard accepted.contains(name) else { throw Unknown(argument: argument) }
            result.append(argument)
            // `--name value`: the value is the next argument unless it is itself a flag (`-999` is a value).
            if !body.contains("="), index < arguments.count, !arguments[index].hasPrefix("--") {
                result[result.count - 1] += " " + arguments[index]
                index += 1
            }
        }
        return result
    }
}
