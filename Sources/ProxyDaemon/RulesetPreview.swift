import FileSource
import NFTables
import ProxyModel
import RuleSync

/// `swift-kube-proxy render`: what a rule mode would send for a config and its manifests, without
/// sending it (no root, no kernel): the iptables-restore input per family, or the nftables batch
/// per family as `nft` would read it. For reviewing a change, or a bug report.
public enum RulesetPreview {
    public enum Failure: Error, CustomStringConvertible {
        case notARuleMode(ProxyConfig.Mode)
        case noManifests
        public var description: String {
            switch self {
            case .notARuleMode(let mode): "render shows a rule mode's rules; mode \(mode.rawValue) has none (use --proxy-mode iptables or nftables)"
            case .noManifests: "render reads the manifests of a file source: the config must name them"
            }
        }
    }

    /// The text for `config`'s mode, as the node `node` would be programmed on its first (full) sync.
    public static func render(_ config: ProxyConfig, node: NodeInfo) throws -> String {
        guard config.mode != .userspace else { throw Failure.notARuleMode(config.mode) }
        guard let manifests = config.manifests else { throw Failure.noManifests }
        let set = try ManifestFiles(path: manifests).load(proxyName: config.serviceProxyName)
        var state = ClusterState(node: node)
        set.apply(to: &state)
        let snapshot = state.takeSnapshot().snapshot
        var out = ""
        for family in NodeFamilies.detect() {
            let plan = ForwardingPlan(snapshot: snapshot, config: config.ruleSyncConfig, family: family)
            switch config.mode {
            case .iptables:
                out += "# \(family == .ipv4 ? "iptables" : "ip6tables")-restore --noflush\n"
                out += IPTablesRestoreInput.full(IPTablesRuleset(plan: plan, renderer: IPTablesRenderer(config: config.ruleSyncConfig, family: family))).text
            case .nftables:
                let ruleset = NFTablesRuleset(plan: plan, renderer: NFTablesRenderer(config: config.ruleSyncConfig, family: family))
                out += "# one netlink batch (nft syntax)\n"
                for command in NFTablesTransaction.full(ruleset, existingChains: [], existingSets: []).batch.commands {
                    out += command.description + "\n"
                    // The command's own description counts elements; a preview wants each one.
                    if case .addElements(_, let elements) = command {
                        for e in elements { out += "    " + Self.describe(e) + "\n" }
                    }
                }
            case .userspace:
                break
            }
        }
        return out
    }

    /// `KEY [: VALUE] [comment "…"]`, values as bytes where they are not verdicts.
    static func describe(_ e: NFTSetElement) -> String {
        var text = "\(e.key)"
        switch e.value {
        case .verdict(let v)?: text += " : \(v)"
        case .data(let d)?: text += " : \(d)"
        case nil: break
        }
        if let comment = e.comment { text += " comment \"\(comment)\"" }
        return text
    }

    /// This node as the daemon sees it: its name, interface addresses and default route's addresses.
    public static func currentNode(_ config: ProxyConfig) -> NodeInfo {
        NodeInfo(name: ProxyDaemon(config: config, logger: .init(label: "render")).nodeName, addresses: LocalAddresses.current(),
                 primaryAddresses: PrimaryNodeAddresses.detect())
    }
}
