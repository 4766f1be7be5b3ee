import NFTables
import ProxyModel

/// The names in our nftables tables: kube-proxy's nftables layout (`pkg/proxy/nftables`), in a table
/// of our own so both can run side by side. docs/nftables.md's "table layout" section is the contract.
public enum NFTablesNames {
    /// Our table, one per family (`ip swift-kube-proxy`, `ip6 swift-kube-proxy`).
    public static let tableName = "swift-kube-proxy"

    public static func table(_ family: IPAddress.Family) -> NFTTable {
        NFTTable(family: family.nftFamily, name: tableName)
    }

    // Base chains (kube-proxy's names and priorities).
    public static let filterPreroutingPreDNAT = "filter-prerouting-pre-dnat"
    public static let filterOutputPreDNAT = "filter-output-pre-dnat"
    public static let filterInput = "filter-input"
    public static let filterForward = "filter-forward"
    public static let filterOutput = "filter-output"
    public static let natPrerouting = "nat-prerouting"
    public static let natOutput = "nat-output"
    public static let natPostrouting = "nat-postrouting"

    /// Base chains of our earlier layout (filter checks before DNAT, at `dstnat - 10`). A table
    /// that still has them was written by an older version, whose `filter-input`, `-forward` and
    /// `-output` hook at another priority; a base chain's priority cannot be changed in place.
    public static let earlierLayoutBaseChains: Set<String> = ["filter-prerouting", "filter-output-post-dnat"]
    /// A table written by an earlier version: filter checks before DNAT, or per-Service endpoint
    /// maps (`service-endpoints-0`, …) and `firewall-ips` as a verdict map. The flat layouts since
    /// have a `firewall-allow` set (with verdict maps) or a `no-endpoint-services-reject` set (this
    /// one), and are adopted in place. Sets cannot change type in place: the table is replaced.
    public static func isEarlierLayout(chains: Set<String>, sets: Set<String>) -> Bool {
        guard !chains.isEmpty || !sets.isEmpty else { return false }
        return !chains.isDisjoint(with: earlierLayoutBaseChains) || (!sets.contains(firewallAllow) && !sets.contains(noEndpointServicesReject))
    }

    /// Just after DNAT (`dstnat + 1`): new connections of affinity frontends fill the affinity maps.
    public static let affinityPrerouting = "affinity-prerouting"
    public static let affinityOutput = "affinity-output"

    /// The base chains of this layout.
    public static let baseChains: Set<String> = [
        filterPreroutingPreDNAT, filterOutputPreDNAT, filterInput, filterForward, filterOutput, natPrerouting, natOutput, natPostrouting,
        affinityPrerouting, affinityOutput,
    ]

    // Regular chains shared by every Service.
    public static let services = "services"
    public static let firewallCheck = "firewall-check"
    public static let serviceEndpointsCheck = "service-endpoints-check"
    public static let nodePortEndpointsCheck = "nodeport-endpoints-check"
    public static let clusterIPsCheck = "cluster-ips-check"
    public static let markForMasquerade = "mark-for-masquerade"
    public static let masquerading = "masquerading"

    // Sets and maps.
    /// Every ClusterIP (`ip daddr @cluster-ips reject` for unknown ports).
    public static let clusterIPs = "cluster-ips"
    /// `daddr . l4proto . dport` of LB IPs with `loadBalancerSourceRanges` (checked before DNAT).
    public static let firewallIPs = "firewall-ips"
    /// The chain that accepts the sources those let in, one rule per prefix length in use.
    public static let firewallAllow = "firewall-allow"
    /// `daddr . l4proto . dport . network`: the source ranges of prefix length `prefixLength`.
    public static func sourceRanges(prefixLength: Int) -> String { firewallAllow + "-" + String(prefixLength) }
    /// External frontends with policy Cluster: every source is masqueraded.
    public static let masqueradeIPs = "masquerade-ips"
    public static let masqueradeNodePorts = "masquerade-nodeports"
    /// External frontends with policy Local and endpoints elsewhere: node sources are masqueraded
    /// and, like pod sources, sent to every endpoint (`cluster-fallback-…`).
    public static let localPolicyIPs = "local-policy-ips"
    public static let localPolicyNodePorts = "local-policy-nodeports"
    /// `daddr . l4proto . dport . slot : endpoint . port`, read by the `pick-` chains.
    public static let serviceEndpoints = "service-endpoints"
    /// `l4proto . dport . slot : endpoint . port`, read by the `nodeport-pick-` chains.
    public static let nodePortEndpoints = "nodeport-endpoints"
    /// `daddr . l4proto . dport` of frontends without endpoints: refused (kube-proxy's
    /// `no-endpoint-services` verdict map, as two plain sets: a `goto` element revalidates the table).
    public static let noEndpointServicesReject = "no-endpoint-services-reject"
    /// Frontends with a Local policy and no endpoint on this node: dropped.
    public static let noEndpointServicesDrop = "no-endpoint-services-drop"
    /// `l4proto . dport` of NodePorts without (local) endpoints.
    public static let noEndpointNodePortsReject = "no-endpoint-nodeports-reject"
    public static let noEndpointNodePortsDrop = "no-endpoint-nodeports-drop"

    /// `endpoint . endpoint` for every endpoint address: `ip saddr . ip daddr @hairpin-endpoints` in
    /// postrouting finds a connection DNATed back to its own source.
    public static let hairpinEndpoints = "hairpin-endpoints"

    /// `daddr . l4proto . dport . endpoint . port` of affinity frontends: a remembered endpoint not
    /// in it is stale (removed since), and the client picks again.
    public static let affinityEndpoints = "affinity-endpoints"
    /// `l4proto . dport . endpoint . port` of affinity NodePorts.
    public static let nodePortAffinityEndpoints = "nodeport-affinity-endpoints"

    // ClientIP affinity (`NFTablesAffinity.swift`).
    /// `client . frontend : endpoint . port`, timed out after `seconds`: one map per timeout value.
    public static func affinityMap(nodePort: Bool, seconds: Int) -> String { (nodePort ? "nodeport-affinity-" : "affinity-") + String(seconds) }
}

extension IPAddress.Family {
    /// The nftables family of our table for this address family.
    public var nftFamily: NFTFamily { self == .ipv4 ? .ip : .ip6 }
}
