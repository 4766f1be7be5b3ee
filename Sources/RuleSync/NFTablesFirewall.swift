import NFTables
import ProxyModel

/// `loadBalancerSourceRanges` in plain hash sets, one per prefix length in use.
///
/// One interval set keyed `frontend . source range` would be the obvious layout, but nf_tables
/// keeps a concatenation with ranges in its pipapo backend, which copies its whole lookup table at
/// every commit that changes it: 59 ms for one LB Service at 100,000 Services (20,000 ranges). Here
/// a range of prefix length L is the element `frontend . network address` of `firewall-allow-L`,
/// and the source is masked to L bits before the lookup:
///
///     chain firewall-check {
///         ip daddr . meta l4proto . th dport @firewall-ips jump firewall-allow
///         ip daddr . meta l4proto . th dport @firewall-ips drop
///     }
///     chain firewall-allow {
///         ip daddr . meta l4proto . th dport . ip saddr & 255.255.255.0 @firewall-allow-24 accept
///     }
///
/// A new connection to a protected frontend costs one lookup per prefix length in use; the rule
/// and set of a length come with its first range (as a pick chain with its first Service).
extension NFTablesRenderer {
    /// `frontend . network address` of every source range of prefix length `length`.
    func sourceRangeSet(_ length: Int) -> NFTSet {
        .set(N.sourceRanges(prefixLength: length), in: table, key: .concat(serviceKey, addressType),
             comment: "LB frontend . allowed source network of prefix length \(length)")
    }

    /// `K . ip saddr & MASK @firewall-allow-L accept`, in `firewall-allow`.
    func sourceRangeRule(_ length: Int) -> NFTRule {
        let set = N.sourceRanges(prefixLength: length)
        let frontend: [NFTField] = [daddr, .l4proto, .thDport]
        let word = NFTRegister.word(frontend.reduce(0) { $0 + ($1.length + 3) / 4 })  // each part padded to 32 bits
        let bytes = addressType.length
        var expressions = NFTField.loadConcatenation(frontend) + [saddr.load(into: word)]
        var text = frontend.map(\.description).joined(separator: " . ") + " . " + saddr.description
        if length < bytes * 8 {
            // The netmask: all-ones with the host bits cleared, as nft prints it (`& 255.255.255.0`).
            let mask = NFTPrefix(address: Array(repeating: 0xff, count: bytes), length: length)!
            expressions.append(.bitwise(from: word, into: word, mask: mask.address, xor: NFTValue(bytes: Array(repeating: 0, count: bytes))))
            text += " & " + mask.description.prefix { $0 != "/" }
        }
        expressions.append(.lookup(.named(set), from: .r1, into: nil, inverted: false))
        return rule(N.firewallAllow, [.expressions(expressions, description: text + " @" + set), .accept])
    }

    /// Whether `ranges` let every source in (a /0): such a frontend is not checked at all.
    static func allowsEverySource(_ ranges: [CIDR]) -> Bool { ranges.contains { $0.prefixLength == 0 } }
}
