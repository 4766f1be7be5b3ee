import ProxyModel
import Yams

/// An upstream `KubeProxyConfiguration` read as a drop-in for kube-proxy's `--config`, with
/// kube-proxy's defaulting (pkg/proxy/apis/config/v1alpha1/defaults.go): the fields we implement
/// map onto `ProxyConfig`; a field we do not implement, set to anything but its zero value or
/// kube-proxy's default, is named in one warning (`ProxyConfig.warnings`), not an error, so every
/// file kube-proxy loads also loads here. Errors are left for what kube-proxy also refuses (a wrong
/// type, an invalid address) and for a mode we cannot run.
///
/// v1alpha1 is what kubeadm writes; v1alpha2 (top-level sync periods, `linux.*`, bind address lists)
/// is read too. Unknown keys are warnings in v1alpha1 (kube-proxy decodes it leniently) and errors
/// in v1alpha2 (decoded strictly).
enum KubeProxyConfiguration {
    static let apiGroup = "kubeproxy.config.k8s.io/"
    static let v1alpha1 = "kubeproxy.config.k8s.io/v1alpha1"
    static let v1alpha2 = "kubeproxy.config.k8s.io/v1alpha2"
    static let kind = "KubeProxyConfiguration"

    /// kube-proxy's ports (pkg/cluster/ports): appended to a bind address written without one.
    static let healthzPort = 10256
    static let metricsPort = 10249

    /// Whether a parsed YAML document is an upstream KubeProxyConfiguration (by apiVersion or kind).
    static func isKubeProxyConfiguration(_ root: Node) -> Bool {
        guard case .mapping(let m) = root else { return false }
        return m["kind"]?.string == kind || (m["apiVersion"]?.string?.hasPrefix(apiGroup) ?? false)
    }

    /// The mapping alone, before `ProxyConfig.validate` (for tests of the mapping itself).
    static func parse(yaml: String, file: String) throws(ConfigError) -> ProxyConfig {
        let root: Node?
        do { root = try Yams.compose(yaml: yaml) } catch { throw ConfigError(file: file, key: "", message: "YAML: \(error)") }
        guard let root else { throw ConfigError(file: file, key: "", message: "empty document") }
        return try parse(root, file: file)
    }

    static func parse(_ root: Node, file: String) throws(ConfigError) -> ProxyConfig {
        var top = try ConfigMapping(root, file: file, path: "")
        let version = try top.string("apiVersion") ?? v1alpha1
        guard version == v1alpha1 || version == v1alpha2 else {
            throw top.error("apiVersion", "\"\(version)\" is not supported; use \(v1alpha1) or \(v1alpha2)")
        }
        if let k = try top.string("kind"), k != kind {
            throw top.error("kind", "expected \(kind), found \"\(k)\"")
        }
        var ignored = IgnoredFields()
        var config = ProxyConfig()
        // kube-proxy always watches the API server, and always sets the conntrack sysctls.
        config.source = .kubernetes
        config.conntrack = ConntrackSettings()

        let modeText = try top.string("mode") ?? ""
        switch modeText {
        case "", "iptables": config.mode = .iptables   // empty: kube-proxy's default on Linux
        case "nftables": config.mode = .nftables
        case "userspace": config.mode = .userspace      // removed from kube-proxy in 1.26; ours is back
        default:
            throw top.error("mode", "\"\(modeText)\" is not supported by swift-kube-proxy (iptables, nftables, userspace, or empty for iptables)")
        }

        if var client = try top.mapping("clientConnection") {
            config.kubeconfig = try client.string("kubeconfig").flatMap { $0.isEmpty ? nil : $0 }
            // What kube-proxy defaults these to, or the API server's own answer either way.
            ignored.unlessDefault(&client, "contentType", ["application/vnd.kubernetes.protobuf", "application/json"])
            ignored.unlessDefault(&client, "acceptContentTypes", [])
            ignored.unlessDefault(&client, "qps", ["5"])
            ignored.unlessDefault(&client, "burst", ["10"])
            try ignored.unknownKeys(of: client, strict: version == v1alpha2)
        }
        if let name = try top.string("hostnameOverride"), !name.isEmpty { config.hostnameOverride = name }
        if let v = try top.nodePortAddresses("nodePortAddresses", kubeProxy: true) { config.setNodePortAddresses(v) }

        if version == v1alpha1 {
            try readV1alpha1(&top, into: &config, ignored: &ignored)
        } else {
            try readV1alpha2(&top, into: &config, ignored: &ignored)
        }

        if let mode = try top.string("detectLocalMode"), !["", "ClusterCIDR"].contains(mode) {
            ignored.add(top, "detectLocalMode", note: "only ClusterCIDR is implemented")
        }
        var unimplemented = ["featureGates", "logging", "bindAddressHardFail", "enableProfiling", "showHiddenMetricsForVersion", "ipvs",
                             "winkernel", "portRange", "windowsRunAsService", "windows"]
        if version == v1alpha1 { unimplemented.append("detectLocal") }   // v1alpha2's carries clusterCIDRs, read above
        for key in unimplemented { ignored.unlessDefault(&top, key, []) }
        ignored.unlessDefault(&top, "oomScoreAdj", ["-999"])
        ignored.unlessDefault(&top, "configHardFail", ["true"])
        // How often informers resync: ours never need to, a watch delivers every change.
        ignored.unlessDefault(&top, "configSyncPeriod", ["15m", "15m0s"])
        try ignored.unknownKeys(of: top, strict: version == v1alpha2)
        if let warning = ignored.warning(file: file) { config.warnings.append(warning) }
        return config
    }

    private static func readV1alpha1(_ top: inout ConfigMapping, into config: inout ProxyConfig, ignored: inout IgnoredFields) throws(ConfigError) {
        // bindAddress is kube-proxy's node IP override; its family picks the default bind addresses.
        let bindText = try top.string("bindAddress") ?? ""
        var ipv6 = false
        if !bindText.isEmpty {
            guard let ip = IPAddress(sloppy: bindText) else { throw top.error("bindAddress", "\"\(bindText)\" is not an IP address") }
            ipv6 = !ip.isIPv4
            // kube-proxy's node IP override: the primary address of its family (`nodePortAddresses: primary`).
            if !ip.isUnspecified { config.nodeIPOverride = [ip] }
        }
        config.healthzBindAddress = try top.bindAddress("healthzBindAddress", port: healthzPort) ?? (ipv6 ? "[::]:10256" : "0.0.0.0:10256")
        config.metricsBindAddress = try top.bindAddress("metricsBindAddress", port: metricsPort) ?? (ipv6 ? "[::1]:10249" : "127.0.0.1:10249")
        if let v = try top.cidrs("clusterCIDR") { config.clusterCIDRs = v }

        // The section of the mode in use carries masquerading and sync periods, as in kube-proxy.
        let inUse = config.mode == .nftables ? "nftables" : "iptables"
        for section in ["iptables", "nftables"] {
            guard var m = try top.mapping(section) else { continue }
            let masqueradeAll = try m.bool("masqueradeAll")
            let masqueradeBit = try m.int("masqueradeBit", in: 0...31)
            let syncPeriod = try m.duration("syncPeriod")
            let minSyncPeriod = try m.duration("minSyncPeriod")
            if section == inUse {
                if let v = masqueradeAll { config.masqueradeAll = v }
                if let v = masqueradeBit { config.masqueradeBit = v }
                // kube-proxy's defaulting: a zero period is the default (30s, 1s), not "never" or "no limit".
                if let v = syncPeriod, v > .zero { config.syncPeriod = v }
                if let v = minSyncPeriod, v > .zero { config.minSyncPeriod = v }
            }
            if section == "iptables", let v = try m.bool("localhostNodePorts") { config.localhostNodePorts = v }
            try ignored.unknownKeys(of: m, strict: false)
        }
        if var m = try top.mapping("conntrack") {
            config.conntrack = try m.conntrack()
            try ignored.unknownKeys(of: m, strict: false)
        }
        // Removed with kube-proxy's old userspace mode; our userspace proxy has its own UDP timeout.
        ignored.unlessDefault(&top, "udpIdleTimeout", ["250ms"])
    }

    private static func readV1alpha2(_ top: inout ConfigMapping, into config: inout ProxyConfig, ignored: inout IgnoredFields) throws(ConfigError) {
        let healthz = try top.int("healthzBindPort", in: 0...65535) ?? healthzPort
        let metrics = try top.int("metricsBindPort", in: 0...65535) ?? metricsPort
        config.healthzBindAddress = try top.bindAddresses("healthzBindAddresses", port: healthz) ?? "0.0.0.0:\(healthz)"
        config.metricsBindAddress = try top.bindAddresses("metricsBindAddresses", port: metrics) ?? "127.0.0.1:\(metrics)"
        if let v = try top.duration("syncPeriod"), v > .zero { config.syncPeriod = v }
        if let v = try top.duration("minSyncPeriod"), v > .zero { config.minSyncPeriod = v }
        if var linux = try top.mapping("linux") {
            if let v = try linux.bool("masqueradeAll") { config.masqueradeAll = v }
            if var conntrack = try linux.mapping("conntrack") {
                config.conntrack = try conntrack.conntrack()
                try ignored.unknownKeys(of: conntrack, strict: true)
            }
            ignored.unlessDefault(&linux, "oomScoreAdj", ["-999"])
            try ignored.unknownKeys(of: linux, strict: true)
        }
        for section in ["iptables", "nftables"] {
            guard var m = try top.mapping(section) else { continue }
            let bit = try m.int("masqueradeBit", in: 0...31)
            if section == (config.mode == .nftables ? "nftables" : "iptables"), let bit { config.masqueradeBit = bit }
            if section == "iptables", let v = try m.bool("localhostNodePorts") { config.localhostNodePorts = v }
            try ignored.unknownKeys(of: m, strict: true)
        }
        if var detect = try top.mapping("detectLocal") {
            if let v = try detect.cidrs("clusterCIDRs") { config.clusterCIDRs = v }
            ignored.unlessDefault(&detect, "bridgeInterface", [])
            ignored.unlessDefault(&detect, "interfaceNamePrefix", [])
            try ignored.unknownKeys(of: detect, strict: true)
        }
        if let overrides = try top.nodeIPs("nodeIPOverride") { config.nodeIPOverride = overrides }
    }
}

/// The fields of a KubeProxyConfiguration that were set but are not implemented, collected for one
/// warning that names each with its line.
struct IgnoredFields {
    private var entries: [String] = []
    private var unknown: [String] = []

    mutating func add(_ m: ConfigMapping, _ key: String, note: String? = nil) {
        let e = m.error(key, "")
        entries.append(Self.named(e.key, line: e.line) + (note.map { ": \($0)" } ?? ""))
    }

    /// Marks `key` as read; names it unless it is absent, holds a zero value, or one of `defaults`.
    /// A section is named by the fields in it that are set (`ipvs.scheduler`), not as a whole.
    mutating func unlessDefault(_ m: inout ConfigMapping, _ key: String, _ defaults: [String]) {
        guard let node = m.rawValue(key), !ConfigMapping.isZero(node) else { return }
        if let text = node.string, defaults.contains(text) { return }
        guard case .mapping = node else { add(m, key); return }
        let e = m.error(key, "")
        addLeaves(of: node, path: e.key)
    }

    private mutating func addLeaves(of node: Node, path: String) {
        guard case .mapping(let inner) = node else { return }
        for (k, v) in inner where !ConfigMapping.isZero(v) {
            let name = "\(path).\(k.string ?? "?")"
            if case .mapping = v {
                addLeaves(of: v, path: name)
            } else {
                entries.append(Self.named(name, line: k.mark?.line))
            }
        }
    }

    /// Keys no version of the type has: a warning in v1alpha1 (kube-proxy's lenient decoding), an
    /// error in v1alpha2 (strict).
    mutating func unknownKeys(of m: ConfigMapping, strict: Bool) throws(ConfigError) {
        if strict { try m.rejectUnknownKeys(); return }
        for e in m.unknownKeys() { unknown.append(Self.named(e.key, line: e.line)) }
    }

    /// `key (line N)`, as the warning names a field.
    private static func named(_ key: String, line: Int?) -> String {
        key + (line.map { " (line \($0))" } ?? "")
    }

    func warning(file: String) -> String? {
        var parts: [String] = []
        if !entries.isEmpty { parts.append("set but not implemented by swift-kube-proxy, so ignored: " + entries.joined(separator: "; ")) }
        if !unknown.isEmpty { parts.append("unknown fields, ignored as kube-proxy's lenient v1alpha1 decoding does: " + unknown.joined(separator: "; ")) }
        return parts.isEmpty ? nil : "\(file): " + parts.joined(separator: ". ")
    }
}

extension ConfigMapping {
    func error(_ key: String, _ message: String) -> ConfigError {
        let node = mapping.first { $0.key.string == key }
        let at = node?.key.mark ?? mark
        return ConfigError(file: file, line: at?.line, column: at?.column, key: path.isEmpty ? key : "\(path).\(key)", message: message)
    }

    static func isZero(_ node: Node) -> Bool {
        switch node {
        case .scalar(let s): ["", "0", "0s", "false", "null", "~", "[]", "{}"].contains(s.string)
        case .mapping(let m): m.allSatisfy { isZero($0.value) }
        case .sequence(let s): s.isEmpty
        case .alias: false
        }
    }

    /// v1alpha1's `healthzBindAddress`/`metricsBindAddress`: `host:port`, or a bare IP that gets
    /// `port` (kube-proxy's AppendPortIfNeeded); nil when empty (the default applies).
    mutating func bindAddress(_ key: String, port: Int) throws(ConfigError) -> String? {
        guard let text = try string(key), !text.isEmpty else { return nil }
        if let ip = IPAddress(sloppy: text) { return BindAddress(host: ip, port: port).description }
        guard BindAddress(text) != nil else {
            throw error(key, "expected an IP address or host:port such as 0.0.0.0:10256 or [::1]:10249, found \"\(text)\"")
        }
        return text
    }

    /// v1alpha2's `healthzBindAddresses`/`metricsBindAddresses` (CIDRs the node's addresses are
    /// matched against) as our single listening address: one host address, or all addresses
    /// (`0.0.0.0/0`, `::/0`), or loopback (`127.0.0.0/8`, `::1/128`).
    mutating func bindAddresses(_ key: String, port: Int) throws(ConfigError) -> String? {
        guard let cidrs = try cidrs(key), !cidrs.isEmpty else { return nil }
        if cidrs.allSatisfy({ $0.prefixLength == 0 }) {
            return cidrs.contains { !$0.address.isIPv4 } ? "[::]:\(port)" : "0.0.0.0:\(port)"
        }
        if cidrs.allSatisfy({ $0.address.isLoopback || $0 == CIDR("127.0.0.0/8")! }) {
            return cidrs.contains { $0.address.isIPv4 } ? "127.0.0.1:\(port)" : "[::1]:\(port)"
        }
        if cidrs.count == 1, let only = cidrs.first, only.prefixLength == (only.address.isIPv4 ? 32 : 128) {
            return BindAddress(host: only.address, port: port).description
        }
        throw error(key, "swift-kube-proxy listens on one address: list one host address (/32, /128), 0.0.0.0/0 and ::/0, or 127.0.0.0/8 and ::1/128")
    }

    /// kube-proxy's `conntrack` section with its defaulting: an absent or null field takes kube-proxy's
    /// default; an explicit 0 leaves that sysctl alone.
    mutating func conntrack() throws(ConfigError) -> ConntrackSettings {
        var c = ConntrackSettings()
        if let v = try int("maxPerCore", in: 0...Int(Int32.max)) { c.maxPerCore = v }
        if let v = try int("min", in: 0...Int(Int32.max)) { c.min = v }
        if let v = try duration("tcpEstablishedTimeout") { c.tcpEstablishedTimeout = v }
        if let v = try duration("tcpCloseWaitTimeout") { c.tcpCloseWaitTimeout = v }
        if let v = try bool("tcpBeLiberal") { c.tcpBeLiberal = v }
        if let v = try duration("udpTimeout") { c.udpTimeout = v }
        if let v = try duration("udpStreamTimeout") { c.udpStreamTimeout = v }
        return c
    }
}
