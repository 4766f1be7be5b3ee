/// One change in a batch. Adding is idempotent for tables, chains and sets (`add`, not `create`):
/// adding what exists with the same definition succeeds, which makes restarts simple.
public enum NFTCommand: Sendable, Hashable, CustomStringConvertible {
    case addTable(NFTTable)
    case deleteTable(NFTTable)
    /// Removes every rule of every chain in the table, keeps chains and sets.
    case flushTable(NFTTable)
    case addChain(NFTChain)
    /// The chain must be empty and unreferenced (flush it first, in the same batch).
    case deleteChain(NFTChain)
    case flushChain(NFTChain)
    case addRule(NFTRule)
    case addSet(NFTSet)
    case deleteSet(NFTSet)
    /// Removes every element, keeps the set.
    case flushSet(NFTSet)
    case addElements(NFTSet, [NFTSetElement])
    case deleteElements(NFTSet, [NFTSetElement])
    /// Deletes the elements that are there and ignores those that are not (`NFT_MSG_DESTROYSETELEM`,
    /// Linux 6.3): for entries of a timed map that may expire before the batch is committed.
    case destroyElements(NFTSet, [NFTSetElement])

    /// The command as `nft` would read it; error messages name commands this way.
    public var description: String {
        switch self {
        case .addTable(let table): "add table \(table)"
        case .deleteTable(let table): "delete table \(table)"
        case .flushTable(let table): "flush table \(table)"
        case .addChain(let chain):
            if let hook = chain.hook {
                "add chain \(chain.table) \(chain.name) { type \(hook.type.rawValue) hook \(hook.point.name) priority \(hook.priority); policy \(hook.policy == .accept ? "accept" : "drop"); }"
            } else {
                "add chain \(chain.table) \(chain.name)"
            }
        case .deleteChain(let chain): "delete chain \(chain.table) \(chain.name)"
        case .flushChain(let chain): "flush chain \(chain.table) \(chain.name)"
        case .addRule(let rule): "add rule \(rule.table) \(rule.chain) \(rule)"
        case .addSet(let set): "add \(set.isMap ? "map" : "set") \(set.table) \(set.name) { \(set.keyTypeof == nil ? "type " : "")\(set.typeDescription);\(set.size.map { " size \($0);" } ?? "") }"
        case .deleteSet(let set): "delete \(set.isMap ? "map" : "set") \(set.table) \(set.name)"
        case .flushSet(let set): "flush \(set.isMap ? "map" : "set") \(set.table) \(set.name)"
        case .addElements(let set, let elements): "add element \(set.table) \(set.name) { \(elements.count) element\(elements.count == 1 ? "" : "s") }"
        case .deleteElements(let set, let elements): "delete element \(set.table) \(set.name) { \(elements.count) element\(elements.count == 1 ? "" : "s") }"
        case .destroyElements(let set, let elements): "destroy element \(set.table) \(set.name) { \(elements.count) element\(elements.count == 1 ? "" : "s") }"
        }
    }
}
