/// One shared endpoint-choice chain: `pick-N` (and `pick-local-N`, `nodeport-pick-N`,
/// `nodeport-pick-local-N`) DNATs to `FRONTEND . numgen inc mod N [offset localBase]` in the
/// endpoints map. Every Service port with N endpoints goes there, so the number of chains
/// depends on the endpoint counts in use, never on the number of Services; a Service or endpoint
/// change adds or deletes map elements only, unless it is the first with a new N.
///
/// With ClientIP affinity the chain is `affinity-pick-N-T` (T the timeout in seconds): the same
/// choice behind a lookup in the timed map `affinity-T`; and every affinity frontend also needs the
/// shared `affinity-remember-T` that fills the map (`affinityRemember`, N = 0; `NFTablesAffinity.swift`).
public struct NFTablesPick: Sendable, Hashable, Comparable {
    /// Keyed by `l4proto . dport` in `nodeport-endpoints` rather than `daddr . l4proto . dport`.
    public var nodePort: Bool
    /// Slots `localBase ..< localBase + N`: a frontend's node-local endpoints, beside its cluster-wide
    /// ones at `0 ..< N` (policy Local for external traffic and the short-circuits for the rest).
    public var local: Bool
    public var endpoints: Int
    /// ClientIP affinity's `timeoutSeconds`; nil without affinity.
    public var affinitySeconds: Int?
    /// Not a pick: a prefix length of `loadBalancerSourceRanges` in use, which has no chain, but
    /// a set and a rule added with its first Service as a pick's (`NFTablesFirewall.swift`).
    public var sourcePrefixLength: Int?

    public init(nodePort: Bool, local: Bool, endpoints: Int, affinitySeconds: Int? = nil) {
        self.nodePort = nodePort
        self.local = local
        self.endpoints = endpoints
        self.affinitySeconds = affinitySeconds
    }

    /// The source ranges of prefix length `length`.
    public static func sourceRanges(prefixLength length: Int) -> NFTablesPick {
        var pick = NFTablesPick(nodePort: false, local: false, endpoints: 0)
        pick.sourcePrefixLength = length
        return pick
    }

    /// The chain that fills the affinity map of `seconds` (no endpoint choice, hence no count).
    public static func affinityRemember(nodePort: Bool, seconds: Int) -> NFTablesPick {
        NFTablesPick(nodePort: nodePort, local: false, endpoints: 0, affinitySeconds: seconds)
    }

    public var isAffinityRemember: Bool { affinitySeconds != nil && endpoints == 0 }

    /// Where local slots start: above any endpoint count a Service may have.
    public static let localBase: UInt32 = 1 << 20

    public var chainName: String { (nodePort ? "nodeport-" : "") + baseName }

    /// The chain's name without `nodeport-`: `pick-10`, `affinity-pick-local-3-10800`, `affinity-remember-10800`.
    public var baseName: String {
        if isAffinityRemember { return "affinity-remember-" + String(affinitySeconds!) }
        return (affinitySeconds == nil ? "" : "affinity-") + (local ? "pick-local-" : "pick-") + String(endpoints)
            + (affinitySeconds.map { "-" + String($0) } ?? "")
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.sourcePrefixLength ?? -1, a.nodePort ? 1 : 0, a.affinitySeconds ?? -1, a.local ? 1 : 0, a.endpoints)
            < (b.sourcePrefixLength ?? -1, b.nodePort ? 1 : 0, b.affinitySeconds ?? -1, b.local ? 1 : 0, b.endpoints)
    }
}
