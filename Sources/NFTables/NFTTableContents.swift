/// The names of what exists in one of our tables, as read back from the kernel.
public struct NFTTableContents: Sendable, Hashable {
    public var table: NFTTable
    /// Chain names, base chains included.
    public var chains: [String]
    /// Named sets and maps (anonymous sets, which belong to rules, are left out).
    public var sets: [String]

    public init(table: NFTTable, chains: [String], sets: [String]) {
        self.table = table
        self.chains = chains
        self.sets = sets
    }
}
