import ProxyModel
import Yams

/// An upstream `KubeProxyConfiguration` (kubeproxy.config.k8s.io/v1alpha1) read as a drop-in for
/// kube-proxy's `--config`: the fields we support map onto `ProxyConfig`; a field we do not support
/// is an error naming it (file:line:field) unless it holds its zero value, so that the complete
/// files kubeadm writes, with every field present and empty, load as they are.
enum KubeProxyConfiguration {
    static let apiGroup = "kubeproxy.config.k8s.io/"
    static let apiVersion = "kubeproxy.config.k8s.io/v1alpha1"
    static let kind = "KubeProxyConfiguration"

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
        var unsupported: [ConfigError] = []
        func reject(_ m: inout ConfigMapping, _ key: String) {
            if let e = m.unsupportedUnlessZero(key) { unsupported.append(e) }
        }

        if let version = try top.string("apiVersion"), version != apiVersion {
            throw top.error("apiVersion", "\"\(version)\" is not supported; use \(apiVersion)")
        }
        if let k = try top.string("kind"), k != kind {
            throw top.error("kind", "expected \(kind), found \"\(k)\"")
        }

        var config = ProxyConfig()
        // kube-proxy always watches the API server.
        config.source = .kubernetes
        let modeText = try top.string("mode") ?? ""
        switch modeText {
        case "": break   // kube-proxy's default is iptables; ours stays the userspace proxy until a mode is named
        case "iptables": config.mode = .iptables
        case "nftables": config.mode = .nftables
        default: unsupported.append(top.error("mode", "\"\(modeText)\" is not supported by swift-kube-proxy (iptables, nftables, or leave it empty)"))
        }

        if var client = try top.mapping("clientConnection") {
            config.kubeconfig = try client.string("kubeconfig").flatMap { $0.isEmpty ? nil : $0 }
            for key in ["acceptContentTypes", "contentType", "qps", "burst"] { reject(&client, key) }
            try client.rejectUnknownKeys()
        }
        if let name = try top.string("hostnameOverride"), !name.isEmpty { config.hostnameOverride = name }
        if let text = try top.string("bindAddress"), !["", "0.0.0.0", "::"].contains(text) {
            unsupported.append(top.error("bindAddress", "not supported by swift-kube-proxy (the node's addresses are read from its interfaces)"))
        }
        if let v = try top.hostPort("healthzBindAddress", allowEmpty: true), !v.isEmpty { config.healthzBindAddress = v }
        if let v = try top.hostPort("metricsBindAddress", allowEmpty: true), !v.isEmpty { config.metricsBindAddress = v }
        if let v = try top.cidrs("clusterCIDR") { config.clusterCIDRs = v }
        if let v = try top.nodePortAddresses("nodePortAddresses") { config.nodePortAddresses = v }

        // The section of the mode in use carries masquerading and sync periods, as in kube-proxy.
        for section in ["iptables", "nftables"] {
            guard var m = try top.mapping(section) else { continue }
            let inUse = section == (config.mode == .nftables ? "nftables" : "iptables")
            let masqueradeAll = try m.bool("masqueradeAll")
            let masqueradeBit = try m.int("masqueradeBit", in: 0...31)
            let syncPeriod = try m.duration("syncPeriod")
            let minSyncPeriod = try m.duration("minSyncPeriod")
            if inUse {
                if let v = masqueradeAll { config.masqueradeAll = v }
                if let v = masqueradeBit { config.masqueradeBit = v }
                if let v = syncPeriod, v > .zero { config.syncPeriod = v }
                if let v = minSyncPeriod { config.minSyncPeriod = v }
            }
            if section == "iptables" {
                reject(&m, "localhostNodePorts")
                reject(&m, "snatNodeInternalIP")
            }
            try m.rejectUnknownKeys()
        }
        // Conntrack sysctls are left as the node has them (kube-proxy would set them).
        _ = top.rawValue("conntrack")

        if let mode = try top.string("detectLocalMode"), !["", "ClusterCIDR"].contains(mode) {
            unsupported.append(top.error("detectLocalMode", "\"\(mode)\" is not supported by swift-kube-proxy (ClusterCIDR only)"))
        }
        for key in ["featureGates", "logging", "bindAddressHardFail", "enableProfiling", "showHiddenMetricsForVersion", "ipvs",
                    "winkernel", "detectLocal", "oomScoreAdj", "configSyncPeriod", "portRange", "windowsRunAsService"] {
            reject(&top, key)
        }
        try top.rejectUnknownKeys()
        if var first = unsupported.first {
            if unsupported.count > 1 { first.message += "\n" + unsupported.dropFirst().map(\.description).joined(separator: "\n") }
            throw first
        }
        return config
    }
}

extension ConfigMapping {
    func error(_ key: String, _ message: String) -> ConfigError {
        let node = mapping.first { $0.key.string == key }
        let at = node?.key.mark ?? mark
        return ConfigError(file: file, line: at?.line, column: at?.column, key: path.isEmpty ? key : "\(path).\(key)", message: message)
    }

    /// Marks `key` as read; an error unless it is absent or holds a zero value (empty, 0, 0s, false,
    /// null, or a mapping/list of such).
    mutating func unsupportedUnlessZero(_ key: String) -> ConfigError? {
        guard let node = rawValue(key), !Self.isZero(node) else { return nil }
        return error(key, "not supported by swift-kube-proxy")
    }

    static func isZero(_ node: Node) -> Bool {
        switch node {
        case .scalar(let s): ["", "0", "0s", "false", "null", "~", "[]", "{}"].contains(s.string)
        case .mapping(let m): m.allSatisfy { isZero($0.value) }
        case .sequence(let s): s.isEmpty
        case .alias: false
        }
    }

    /// kube-proxy's nodePortAddresses: CIDRs and the keywords `all` and `localhost` (`primary` needs
    /// the Node object's addresses, which we do not read).
    mutating func nodePortAddresses(_ key: String) throws(ConfigError) -> [CIDR]? {
        guard let node = rawValue(key), !ConfigMapping.isZero(node) else { return nil }
        guard case .sequence(let items) = node else { throw error(key, "expected a list of CIDRs or keywords") }
        var result: [CIDR] = []
        for item in items {
            let text = item.string ?? ""
            switch text {
            case "all": return []   // every node address, which is also our default
            case "localhost": result += [CIDR("127.0.0.0/8")!, CIDR("::1/128")!]
            case "primary": throw error(key, "the keyword \"primary\" is not supported by swift-kube-proxy; list CIDRs, \"localhost\" or \"all\"")
            default:
                guard let cidr = CIDR(text) else { throw error(key, "\"\(text)\" is not a CIDR or a keyword") }
                result.append(cidr)
            }
        }
        return result
    }
}
