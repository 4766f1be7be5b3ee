/// A rule: statements appended to a chain, with an optional comment that `nft list` shows.
///
/// ```swift
/// NFTRule(in: services, [.lookup([.ipDaddr, .l4proto, .thDport], vmap: "service-ips")])
/// NFTRule(in: svc, [.match(.ipSaddr, negated: true, prefix: clusterCIDR), .jump("mark-for-masquerade")],
///         comment: "default/web:http cluster IP")
/// ```
public struct NFTRule: Sendable, Hashable, CustomStringConvertible {
    public var table: NFTTable
    public var chain: String
    public var statements: [NFTStatement]
    /// Stored as rule userdata (`NFTNL_UDATA_RULE_COMMENT`), shown as `comment "..."`.
    public var comment: String?

    public init(table: NFTTable, chain: String, _ statements: [NFTStatement], comment: String? = nil) {
        self.table = table
        self.chain = chain
        self.statements = statements
        self.comment = comment
    }

    public init(in chain: NFTChain, _ statements: [NFTStatement], comment: String? = nil) {
        self.init(table: chain.table, chain: chain.name, statements, comment: comment)
    }

    /// All kernel expressions, in order.
    public var expressions: [NFTExpression] { statements.flatMap(\.expressions) }

    /// The rule's body as `nft` writes it.
    public var description: String {
        var text = statements.map(\.description).joined(separator: " ")
        if let comment { text += " comment \"\(comment)\"" }
        return text
    }

    /// The rule userdata `nft` writes for a comment: TLV type 0, length including the NUL.
    var userdata: [UInt8]? {
        guard let comment else { return nil }
        let bytes = Array(comment.utf8.prefix(127)) + [0]
        return [0, UInt8(bytes.count)] + bytes
    }
}
