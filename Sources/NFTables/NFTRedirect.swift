/// `redirect`: send a packet to this host, to a local port (the historic kube-proxy userspace
/// mode's rules). Only in `nat` chains, after a transport protocol match.
extension NFTStatement {
    /// `redirect to :PORT`.
    public static func redirect(toPort port: UInt16) -> NFTStatement {
        // NF_NAT_RANGE_PROTO_SPECIFIED (2), as nft sends with a port.
        NFTStatement([.immediate(.port(port), into: .r1), .redirect(port: .r1, flags: 2)], description: "redirect to :\(port)")
    }

    /// `redirect to :FIELDS map @MAP`: the port is looked up in a data map of `inet_service`
    /// values (`ip daddr . meta l4proto . th dport map @redirects`), one rule for every Service.
    public static func redirect(toPortFrom fields: [NFTField], map: String) -> NFTStatement {
        NFTStatement(NFTField.loadConcatenation(fields) + [
            .lookup(.named(map), from: .r1, into: .r1, inverted: false),
            .redirect(port: .r1, flags: 2),
        ], description: "redirect to :\(fields.nftText) map @\(map)")
    }
}
