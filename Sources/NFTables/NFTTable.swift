/// A table: the unit of ownership. We only ever change tables we name.
public struct NFTTable: Sendable, Hashable, CustomStringConvertible {
    public var family: NFTFamily
    public var name: String

    public init(family: NFTFamily, name: String) {
        self.family = family
        self.name = name
    }

    /// `ip swift-kube-proxy`, as `nft` writes it after `table`.
    public var description: String { "\(family.rawValue) \(name)" }
}
