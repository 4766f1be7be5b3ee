import Foundation
import ProxyModel
import Yams

extension ProxyConfig {
    /// Reads a config file. Unknown keys and wrong types are errors naming the file, line and key.
    public static func load(file: String) throws(ConfigError) -> ProxyConfig {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigError(file: file, key: "", message: "cannot read the config file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: file, key: "", message: "not UTF-8 text")
        }
        var config = try parse(yaml: text, file: file)
        // A relative manifests path is relative to the config file, so `--config x/config.yaml` works from anywhere.
        if let manifests = config.manifests, !manifests.hasPrefix("/") {
            let dir = (file as NSString).deletingLastPathComponent
            config.manifests = dir.isEmpty ? manifests : (dir as NSString).appendingPathComponent(manifests)
        }
        return config
    }

    public static func parse(yaml text: String, file: String) throws(ConfigError) -> ProxyConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                throw ConfigError(file: file, line: mark.line, column: mark.column, key: "", message: "YAML: \(problem)")
            default:
                throw ConfigError(file: file, key: "", message: "YAML: \(error)")
            }
        } catch {
            throw ConfigError(file: file, key: "", message: "YAML: \(error)")
        }
        var config = ProxyConfig()
        guard let root else { return config }
        if KubeProxyConfiguration.isKubeProxyConfiguration(root) {
            config = try KubeProxyConfiguration.parse(root, file: file)
            config.isKubeProxyConfiguration = true
            try config.validate(file: file, root: root)
            return config
        }
        var top = try ConfigMapping(root, file: file, path: "")
        if let v = try top.enumeration("mode", Mode.self) { config.mode = v }
        if let v = try top.enumeration("source", Source.self) { config.source = v }
        config.manifests = try top.string("manifests")
        if let v = try top.nodePortAddresses("nodePortAddresses", kubeProxy: false) { config.setNodePortAddresses(v) }
        if let v = try top.nodeIPs("nodeIPOverride") { config.nodeIPOverride = v }
        config.hostnameOverride = try top.string("hostnameOverride")
        if let v = try top.cidrs("clusterCIDR") { config.clusterCIDRs = v }
        if let v = try top.bool("masqueradeAll") { config.masqueradeAll = v }
        if let v = try top.cidrs("serviceCIDRs") { config.serviceCIDRs = v }
        if let v = try top.int("masqueradeBit", in: 0...31) { config.masqueradeBit = v }
        if let v = try top.enumeration("endpointPick", EndpointPick.self) { config.endpointPick = v }
        if let v = try top.enumeration("iptablesVariant", IPTablesVariant.self) { config.iptablesVariant = v }
        if var m = try top.mapping("iptables") {
            if let v = try m.bool("localhostNodePorts") { config.localhostNodePorts = v }
            try m.rejectUnknownKeys()
        }
        if let v = try top.duration("minSyncPeriod") { config.minSyncPeriod = v }
        if let v = try top.duration("syncPeriod", positive: true) { config.syncPeriod = v }
        if let v = try top.hostPort("metricsBindAddress") { config.metricsBindAddress = v }
        if let v = try top.hostPort("healthzBindAddress") { config.healthzBindAddress = v }
        config.kubeconfig = try top.string("kubeconfig")
        if let v = try top.enumeration("endpointsSource", EndpointsSource.self) { config.endpointsSource = v }
        config.serviceProxyName = try top.string("serviceProxyName")
        if var u = try top.mapping("userspace") {
            if let v = try u.int("eventLoops", in: 0...1024) { config.userspace.eventLoops = v }
            if let v = try u.duration("dialTimeout", positive: true) { config.userspace.dialTimeout = v }
            if let v = try u.duration("tcpIdleTimeout", positive: true) { config.userspace.tcpIdleTimeout = v }
            if let v = try u.duration("udpFlowTimeout", positive: true) { config.userspace.udpFlowTimeout = v }
            if let v = try u.int("maxUDPFlowsPerRule", in: 1...1_000_000) { config.userspace.maxUDPFlowsPerRule = v }
            if let v = try u.int("maxUDPFlowsPerLoop", in: 1...10_000_000) { config.userspace.maxUDPFlowsPerLoop = v }
            if let v = try u.int("pipeSize", in: 4096...(16 << 20)) { config.userspace.pipeSize = v }
            if let v = try u.int("bufferSize", in: 1024...(16 << 20)) { config.userspace.bufferSize = v }
            if let v = try u.bool("redirects") { config.userspace.redirects = v }
            if let v = try u.portRange("proxyPortRange") { config.userspace.proxyPortRange = v }
            try u.rejectUnknownKeys()
        }
        try top.rejectUnknownKeys()
        try config.validate(file: file, root: root)
        return config
    }

    /// Rules that span several keys.
    func validate(file: String, root: Node) throws(ConfigError) {
        func fail(_ key: String, _ message: String) -> ConfigError {
            let mark = YAMLKeyMark.of(key, in: root)
            return ConfigError(file: file, line: mark?.line, column: mark?.column, key: key, message: message)
        }
        switch source {
        case .file:
            guard manifests != nil else { throw fail("manifests", "required with source: file") }
        case .kubernetes:
            break
        }
    }
}

/// `nodePortAddresses` as written: `primary`, or prefixes (none: every address).
enum WrittenNodePortAddresses: Equatable {
    case primary
    case cidrs([CIDR])
}

extension ProxyConfig {
    mutating func setNodePortAddresses(_ written: WrittenNodePortAddresses) {
        switch written {
        case .primary:
            nodePortAddresses = []
            nodePortAddressesPrimary = true
        case .cidrs(let cidrs):
            nodePortAddresses = cidrs
            nodePortAddressesPrimary = false
        }
    }
}

/// Where a top-level key stands, for errors found after parsing.
enum YAMLKeyMark {
    static func of(_ key: String, in root: Node) -> Mark? {
        guard case .mapping(let m) = root else { return root.mark }
        return m.first { $0.key.string == key }?.key.mark ?? root.mark
    }
}

/// One mapping of the config, read key by key: each accessor checks the type and remembers the key
/// as known, so whatever is left at the end is an unknown key.
struct ConfigMapping {
    let file: String
    let path: String
    let mapping: Node.Mapping
    let mark: Mark?
    private var known: Set<String> = []

    init(_ node: Node, file: String, path: String) throws(ConfigError) {
        guard case .mapping(let m) = node else {
            throw ConfigError(file: file, line: node.mark?.line, column: node.mark?.column, key: path, message: "expected a mapping of keys")
        }
        self.file = file
        self.path = path
        mapping = m
        mark = node.mark
    }

    private func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func error(_ key: String, _ node: Node?, _ message: String) -> ConfigError {
        let at = node?.mark ?? mark
        return ConfigError(file: file, line: at?.line, column: at?.column, key: name(key), message: message)
    }

    /// The node of `key` as written (null included), marking the key as known.
    mutating func rawValue(_ key: String) -> Node? {
        known.insert(key)
        return mapping[key]
    }

    private mutating func value(_ key: String) -> Node? {
        known.insert(key)
        guard let node = mapping[key] else { return nil }
        if case .scalar(let s) = node, s.tag.description == Tag.Name.null.rawValue
            || (s.style == .plain && ["", "null", "Null", "NULL", "~"].contains(s.string)) {
            return nil   // `key:` or `key: null` means "use the default"
        }
        return node
    }

    private mutating func scalar(_ key: String, expected: String) throws(ConfigError) -> (String, Node)? {
        guard let node = value(key) else { return nil }
        guard case .scalar(let s) = node else { throw error(key, node, "expected \(expected)") }
        return (s.string, node)
    }

    mutating func string(_ key: String) throws(ConfigError) -> String? {
        try scalar(key, expected: "a string")?.0
    }

    mutating func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let (text, node) = try scalar(key, expected: "true or false") else { return nil }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: throw error(key, node, "expected true or false, found \"\(text)\"")
        }
    }

    mutating func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let (text, node) = try scalar(key, expected: "an integer") else { return nil }
        guard let n = Int(text) else { throw error(key, node, "expected an integer, found \"\(text)\"") }
        guard range.contains(n) else { throw error(key, node, "\(n) is not within \(range.lowerBound)...\(range.upperBound)") }
        return n
    }

    mutating func duration(_ key: String, positive: Bool = false) throws(ConfigError) -> Duration? {
        guard let (text, node) = try scalar(key, expected: "a duration such as 1s, 250ms or 1m30s") else { return nil }
        guard let d = GoDuration.parse(text) else {
            throw error(key, node, "expected a duration such as 1s, 250ms or 1m30s, found \"\(text)\"")
        }
        if positive && d <= .zero { throw error(key, node, "must be greater than 0") }
        return d
    }

    mutating func enumeration<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type) throws(ConfigError) -> E?
    where E.RawValue == String {
        let choices = E.allCases.map(\.rawValue).joined(separator: ", ")
        guard let (text, node) = try scalar(key, expected: "one of \(choices)") else { return nil }
        guard let v = E(rawValue: text) else { throw error(key, node, "\"\(text)\" is not one of \(choices)") }
        return v
    }

    mutating func hostPort(_ key: String, allowEmpty: Bool = false) throws(ConfigError) -> String? {
        guard let (text, node) = try scalar(key, expected: "host:port") else { return nil }
        if allowEmpty && text.isEmpty { return text }
        guard BindAddress(text) != nil else { throw error(key, node, "expected host:port such as 0.0.0.0:10256 or [::1]:10249, found \"\(text)\"") }
        return text
    }

    /// A port range written as kube-proxy's `--proxy-port-range` is: `first-last`, both within 1–65535.
    mutating func portRange(_ key: String) throws(ConfigError) -> ClosedRange<Int>? {
        guard let (text, node) = try scalar(key, expected: "a port range such as 61000-65535") else { return nil }
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard bounds.count == 2, let first = bounds[0], let last = bounds[1] else {
            throw error(key, node, "expected a port range such as 61000-65535, found \"\(text)\"")
        }
        guard 1 <= first, first <= last, last <= 65535 else {
            throw error(key, node, "\(text) is not a range of ports within 1-65535, first to last")
        }
        return first...last
    }

    /// The entries of a list-valued key, each with its node for errors: a YAML list of strings or,
    /// where `commaSeparated`, one string of entries separated by commas (as the flags take them).
    private func entries(_ key: String, _ node: Node, commaSeparated: Bool = true, each: String,
                         expected: String) throws(ConfigError) -> [(String, Node)] {
        switch node {
        case .sequence(let seq):
            var items: [(String, Node)] = []
            for item in seq {
                guard case .scalar(let s) = item else { throw error(key, item, each) }
                items.append((s.string, item))
            }
            return items
        case .scalar(let s) where commaSeparated:
            return s.string.split(separator: ",").map { (String($0).trimmingCharacters(in: .whitespaces), node) }
        default:
            throw error(key, node, expected)
        }
    }

    /// A list of addresses or CIDRs (a single string is taken as a comma-separated list, as the flag is).
    mutating func cidrs(_ key: String) throws(ConfigError) -> [CIDR]? {
        guard let node = value(key) else { return nil }
        let items = try entries(key, node, each: "expected an address or CIDR", expected: "expected a list of addresses or CIDRs")
        var result: [CIDR] = []
        for (text, item) in items {
            guard let cidr = CIDR(text) else { throw error(key, item, "\"\(text)\" is not an IP address or CIDR") }
            result.append(cidr)
        }
        return result
    }

    /// `nodePortAddresses`: CIDRs (ours also take plain addresses and a comma-separated string, as
    /// the flag), `all` (every address) and `localhost` (ours), or `primary` alone: kube-proxy
    /// refuses it beside CIDRs ("can't use both 'primary' and CIDRs"), and so do we. An empty list is
    /// unset, as in kube-proxy: the mode's default.
    mutating func nodePortAddresses(_ key: String, kubeProxy: Bool) throws(ConfigError) -> WrittenNodePortAddresses? {
        guard let node = value(key) else { return nil }
        if case .scalar(let s) = node, s.string.isEmpty { return nil }
        let items = try entries(key, node, commaSeparated: !kubeProxy, each: "expected a CIDR or a keyword",
                                expected: "expected a list of CIDRs or keywords (primary, all, localhost)")
        if items.isEmpty { return nil }
        if let (_, item) = items.first(where: { $0.0 == "primary" }) {
            guard items.count == 1 else {
                throw error(key, item, "can't use both 'primary' and CIDRs: \"primary\" (the node's primary address of each family) must be the only entry")
            }
            return .primary
        }
        var result: [CIDR] = []
        for (text, item) in items {
            switch text {
            case "all": return .cidrs([])   // every node address
            case "localhost": result += [CIDR("127.0.0.0/8")!, CIDR("::1/128")!]
            default:
                guard let cidr = kubeProxy ? CIDR(sloppy: text) : CIDR(text) else {
                    throw error(key, item, "\"\(text)\" is not a CIDR or a keyword (primary, all, localhost)")
                }
                result.append(cidr)
            }
        }
        return .cidrs(result)
    }

    /// Node IP overrides: addresses (a list, or one string of them separated by commas), at most one
    /// per family; 0.0.0.0 and :: are "no override", as kube-proxy reads them.
    mutating func nodeIPs(_ key: String) throws(ConfigError) -> [IPAddress]? {
        guard let node = value(key) else { return nil }
        let items = try entries(key, node, each: "expected an IP address", expected: "expected a list of IP addresses")
        var result: [IPAddress] = []
        for (text, item) in items {
            guard let ip = IPAddress(sloppy: text) else { throw error(key, item, "\"\(text)\" is not an IP address") }
            if ip.isUnspecified { continue }
            guard !result.contains(where: { $0.family == ip.family }) else {
                throw error(key, item, "one address per family: \(text) is a second \(ip.isIPv4 ? "IPv4" : "IPv6") address")
            }
            result.append(ip)
        }
        return result
    }

    mutating func mapping(_ key: String) throws(ConfigError) -> ConfigMapping? {
        guard let node = value(key) else { return nil }
        return try ConfigMapping(node, file: file, path: name(key))
    }

    /// The keys no accessor has read, each as an error naming it (for callers that only warn).
    func unknownKeys() -> [ConfigError] {
        mapping.compactMap { key, _ in
            let text = key.string ?? "?"
            if known.contains(text) { return nil }
            return ConfigError(file: file, line: key.mark?.line, column: key.mark?.column, key: name(text), message: "unknown key")
        }
    }

    func rejectUnknownKeys() throws(ConfigError) {
        for (key, _) in mapping {
            let text = key.string ?? "?"
            if !known.contains(text) {
                throw ConfigError(file: file, line: key.mark?.line, column: key.mark?.column, key: name(text), message: "unknown key")
            }
        }
    }
}
