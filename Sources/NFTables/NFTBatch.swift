/// An ordered list of commands that the kernel applies as one transaction: all of them or none.
///
/// ```swift
/// var batch = NFTBatch()
/// batch.add(table)
/// batch.add(chain)
/// batch.add(NFTRule(in: chain, [.jump("services")]))
/// try connection.apply(batch)
/// ```
public struct NFTBatch: Sendable, Hashable {
    public private(set) var commands: [NFTCommand] = []

    public init(_ commands: [NFTCommand] = []) { self.commands = commands }

    public var isEmpty: Bool { commands.isEmpty }

    public mutating func append(_ command: NFTCommand) { commands.append(command) }
    public mutating func append(contentsOf other: NFTBatch) { commands += other.commands }

    public mutating func add(_ table: NFTTable) { append(.addTable(table)) }
    public mutating func delete(_ table: NFTTable) { append(.deleteTable(table)) }
    public mutating func flush(_ table: NFTTable) { append(.flushTable(table)) }
    public mutating func add(_ chain: NFTChain) { append(.addChain(chain)) }
    public mutating func delete(_ chain: NFTChain) { append(.deleteChain(chain)) }
    public mutating func flush(_ chain: NFTChain) { append(.flushChain(chain)) }
    public mutating func add(_ rule: NFTRule) { append(.addRule(rule)) }
    public mutating func add(_ set: NFTSet) { append(.addSet(set)) }
    public mutating func delete(_ set: NFTSet) { append(.deleteSet(set)) }
    public mutating func flush(_ set: NFTSet) { append(.flushSet(set)) }
    public mutating func add(_ elements: [NFTSetElement], to set: NFTSet) { append(.addElements(set, elements)) }
    public mutating func delete(_ elements: [NFTSetElement], from set: NFTSet) { append(.deleteElements(set, elements)) }
}
