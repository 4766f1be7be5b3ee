import ProxyModel

/// Which iptables implementation to program (`iptablesVariant` in the config).
public enum IPTablesVariantChoice: String, Sendable, Hashable, CaseIterable {
    /// The one that already holds rules, as kube-proxy (iptables-wrapper) decides; nft when in doubt.
    case auto
    case nft
    case legacy
}

/// An iptables implementation: `iptables-nft` (nf_tables kernel API, Debian's default) or
/// `iptables-legacy` (x_tables). Both read the same restore syntax.
public enum IPTablesVariant: String, Sendable, Hashable, CaseIterable {
    case nft, legacy

    func tool(_ base: String, _ family: IPAddress.Family) -> String {
        (family == .ipv4 ? "iptables" : "ip6tables") + "-\(rawValue)" + (base.isEmpty ? "" : "-\(base)")
    }

    public func restoreCommand(_ family: IPAddress.Family) -> String { tool("restore", family) }
    public func saveCommand(_ family: IPAddress.Family) -> String { tool("save", family) }
    public func iptablesCommand(_ family: IPAddress.Family) -> String { tool("", family) }

    /// kube-proxy's choice when neither is forced: a variant that holds our chains or kubelet's
    /// canaries (`KUBE-IPTABLES-HINT`, `KUBE-KUBELET-CANARY`) wins; otherwise the one with more
    /// rules (legacy only if it has strictly more); nft when both are empty or unreadable.
    public static func detect(commandPrefix: [String], runner: any CommandRunner) -> IPTablesVariant {
        func listing(_ v: IPTablesVariant) -> String {
            [IPAddress.Family.ipv4, .ipv6].map { family in
                (try? runner.run(commandPrefix + [v.saveCommand(family)], input: nil)) ?? ""
            }.joined(separator: "\n")
        }
        let legacy = listing(.legacy), nft = listing(.nft)
        return choose(legacySave: legacy, nftSave: nft)
    }

    /// The decision on two `*-save` listings (v4 and v6 concatenated), separated out to test it.
    public static func choose(legacySave: String, nftSave: String) -> IPTablesVariant {
        let hints = [":\(IPTablesChains.services) ", ":KUBE-IPTABLES-HINT ", ":KUBE-KUBELET-CANARY "]
        func hinted(_ text: String) -> Bool { hints.contains { text.contains($0) } }
        let legacyHinted = hinted(legacySave), nftHinted = hinted(nftSave)
        if legacyHinted != nftHinted { return legacyHinted ? .legacy : .nft }
        func ruleLines(_ text: String) -> Int { text.split(separator: "\n").count { $0.hasPrefix("-") } }
        return ruleLines(legacySave) > ruleLines(nftSave) ? .legacy : .nft
    }
}
