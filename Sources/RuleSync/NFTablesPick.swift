/// One shared endpoint-choice chain: `pick-N` (and `pick-local-N`, `nodeport-pick-N`,
/// `nodeport-pick-local-N`) DNATs to `FRONTEND . numgen inc mod N [offset localBase]` in the
/// endpoints map. Every Service port with N endpoints goes there, so the number of chains
/// depends on the endpoint counts in use, never on the number of Services; a Service or endpoint
/// change adds or deletes map elements only, unless it is the first with a new N.
public struct NFTablesPick: Sendable, Hashable, Comparable {
    /// Keyed by `l4proto . dport` in `nodeport-endpoints` rather than `daddr . l4proto . dport`.
    public var nodePort: Bool
    /// Slots `localBase ..< localBase + N`: a frontend's node-local endpoints, beside its cluster-wide
    /// ones at `0 ..< N` (policy Local for external traffic and the short-circuits for the rest).
    public var local: Bool
    public var endpoints: Int

    public init(nodePort: Bool, local: Bool, endpoints: Int) {
        self.nodePort = nodePort
        self.local = local
        self.endpoints = endpoints
    }

    /// Where local slots start: above any endpoint count a Service may have.
    public static let localBase: UInt32 = 1 << 20

    public var chainName: String { (nodePort ? "nodeport-" : "") + (local ? "pick-local-" : "pick-") + String(endpoints) }

    public static func < (a: Self, b: Self) -> Bool {
        (a.nodePort ? 1 : 0, a.local ? 1 : 0, a.endpoints) < (b.nodePort ? 1 : 0, b.local ? 1 : 0, b.endpoints)
    }
}
