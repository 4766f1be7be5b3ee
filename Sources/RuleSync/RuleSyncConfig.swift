import ProxyModel

/// How a rule backend picks an endpoint for a new connection.
public enum EndpointPick: String, Sendable, Hashable, CaseIterable {
    /// Every endpoint in turn (iptables `statistic --mode nth`, nftables `numgen inc`). The default.
    case roundRobin
    /// Uniformly at random (iptables `statistic --mode random`, nftables `numgen random`), as kube-proxy does.
    case random
}

/// Settings every rule backend (iptables, nftables) shares: the inputs of kube-proxy's masquerade and
/// NodePort decisions.
public struct RuleSyncConfig: Sendable, Hashable {
    /// Pod address ranges. Traffic to a ClusterIP from outside them is masqueraded (kube-proxy's
    /// `--cluster-cidr`); empty disables that rule, as upstream does without a local-traffic detector.
    public var clusterCIDRs: [CIDR]
    /// Masquerade all traffic sent to a Service (kube-proxy's `--masquerade-all`).
    public var masqueradeAll: Bool
    /// Where NodePorts listen: local addresses inside these prefixes; empty means every local address.
    public var nodePortAddresses: [CIDR]
    /// kube-proxy's `nodePortAddresses: [primary]` (the default of its nftables mode): NodePorts on
    /// the node's primary address of each family (`NodeInfo.primaryAddresses`, so they follow the
    /// Node), and `nodePortAddresses` is not read. A family with no primary address serves on all of
    /// its addresses, as upstream (no CIDR of that family).
    public var nodePortAddressesPrimary = false
    /// kube-proxy's node IP override (`bindAddress`, `nodeIPOverride`): the primary address of its
    /// family, whatever the Node says.
    public var nodeIPOverride: [IPAddress] = []
    /// The packet-mark bit that asks for masquerade (kube-proxy's `--iptables-masquerade-bit`, 0...31).
    public var masqueradeBit: Int
    public var endpointPick: EndpointPick
    /// iptables only (kube-proxy's `iptables.localhostNodePorts`): IPv4 NodePorts also answer on
    /// 127.0.0.0/8, which needs `route_localnet=1` (the daemon sets it) and the anti-martian rule.
    /// The nftables backend never serves loopback, as upstream's nftables mode.
    public var localhostNodePorts: Bool
    /// `nf_conntrack_tcp_be_liberal` is set: iptables leaves out its `ctstate INVALID` drop in the
    /// forward path, as kube-proxy does.
    public var conntrackTCPLiberal: Bool
    /// The Service ClusterIP ranges (kube-proxy's `--service-cluster-ip-range`): the nftables
    /// backend drops traffic to an address in them that no Service holds. Empty: no such rule.
    public var serviceCIDRs: [CIDR] = []

    public init(clusterCIDRs: [CIDR] = [], masqueradeAll: Bool = false, nodePortAddresses: [CIDR] = [],
                masqueradeBit: Int = 14, endpointPick: EndpointPick = .roundRobin,
                localhostNodePorts: Bool = false, conntrackTCPLiberal: Bool = false) {
        precondition((0...31).contains(masqueradeBit), "masqueradeBit must be 0...31")
        self.clusterCIDRs = clusterCIDRs
        self.masqueradeAll = masqueradeAll
        self.nodePortAddresses = nodePortAddresses
        self.masqueradeBit = masqueradeBit
        self.endpointPick = endpointPick
        self.localhostNodePorts = localhostNodePorts
        self.conntrackTCPLiberal = conntrackTCPLiberal
    }

    /// The mark value, e.g. `0x4000` for bit 14.
    public var masqueradeMark: UInt32 { 1 << UInt32(masqueradeBit) }

    public func clusterCIDRs(of family: IPAddress.Family) -> [CIDR] { clusterCIDRs.filter { $0.family == family } }
    public func nodePortAddresses(of family: IPAddress.Family) -> [CIDR] { nodePortAddresses.filter { $0.family == family } }

    /// The `nodePortAddresses` of `family` with `primary` resolved against `node` as upstream turns it
    /// into CIDRs: the primary address as a host prefix; none when the family has none or it is
    /// loopback (upstream's fallback node IP), which leaves every address of the family serving.
    public func nodePortAddresses(of family: IPAddress.Family, node: NodeInfo) -> [CIDR] {
        guard nodePortAddressesPrimary else { return nodePortAddresses(of: family) }
        guard let ip = primaryAddress(of: family, node: node), !ip.isLoopback else { return [] }
        return [CIDR(address: ip, prefixLength: family == .ipv4 ? 32 : 128)]
    }

    /// The node's primary address of `family`: the override, else the Node's (kube-proxy's detectNodeIPs).
    public func primaryAddress(of family: IPAddress.Family, node: NodeInfo) -> IPAddress? {
        nodeIPOverride.first { $0.family == family } ?? node.primaryAddress(of: family)
    }
}
