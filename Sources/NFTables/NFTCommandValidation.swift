extension NFTCommand {
    /// Why the kernel would reject this command for its shape alone, found before sending so the
    /// error can say more than `EINVAL`; nil when it looks well-formed. Public so a caller can check
    /// the commands of one object before they join a batch, and leave out only that object.
    public var validationFailure: String? {
        switch self {
        case .addTable(let table), .deleteTable(let table), .flushTable(let table):
            return Self.nameProblem(table.name)
        case .addChain(let chain), .deleteChain(let chain), .flushChain(let chain):
            return Self.nameProblem(chain.table.name) ?? Self.nameProblem(chain.name)
        case .addRule(let rule):
            if let comment = rule.comment, comment.utf8.count > 127 { return "comment longer than 127 bytes" }
            // Statement by statement: no flattened copy of every expression for each rule checked.
            for statement in rule.statements {
                for expression in statement.expressions {
                    if case .lookup(.anonymous(let set), _, _, _) = expression {
                        let shape = ElementShape(keyType: set.keyType, mapping: set.mapping, isInterval: set.isInterval)
                        for i in set.elements.indices {
                            if let problem = shape.problem(set.elements, i) { return problem }
                        }
                    }
                }
            }
            return Self.nameProblem(rule.chain)
        case .addSet(let set):
            if set.timeout != nil && !set.flags.contains(.timeout) { return "a default timeout needs flags timeout" }
            if set.keyType.components.count > 1 && set.keyType.length > 64 { return "key longer than 64 bytes" }
            return Self.nameProblem(set.name)
        case .deleteSet(let set), .flushSet(let set):
            return Self.nameProblem(set.name)
        case .addElements(let set, let elements), .deleteElements(let set, let elements):
            let shape = ElementShape(keyType: set.keyType, mapping: set.mapping, isInterval: set.flags.contains(.interval))
            let timeouts = set.flags.contains(.timeout)
            // By index: a for-in copy of each element is several retains, over a million elements.
            for i in elements.indices {
                if let problem = shape.problem(elements, i) { return problem }
                if elements[i].timeout != nil && !timeouts { return "element timeout needs a set with flags timeout" }
            }
            return nil
        case .destroyElements(let set, let elements):
            return NFTCommand.deleteElements(set, elements).validationFailure
        }
    }

    private static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "empty name" }
        if name.utf8.count > 255 { return "name longer than 255 bytes" }
        return nil
    }
}

/// What every element of one set must look like, worked out once per set rather than per element
/// (a type's length walks its components).
private struct ElementShape {
    let keyType: NFTDataType
    let keyLength: Int
    let mapping: NFTSet.Mapping?
    let valueLength: Int?
    let isInterval: Bool

    init(keyType: NFTDataType, mapping: NFTSet.Mapping?, isInterval: Bool) {
        self.keyType = keyType
        keyLength = keyType.length
        self.mapping = mapping
        if case .data(let type) = mapping { valueLength = type.length } else { valueLength = nil }
        self.isInterval = isInterval
    }

    /// `elements[i]`'s problem, its fields read in place: a copy of each of a million elements was
    /// half of a full sync's validation.
    func problem(_ elements: [NFTSetElement], _ i: Int) -> String? {
        if elements[i].key.count != keyLength {
            return "element key \(elements[i].key) is \(elements[i].key.count) bytes, \(keyType) needs \(keyLength)"
        }
        if let end = elements[i].keyEnd {
            if !isInterval { return "a range element needs a set with flags interval" }
            if end.count != keyLength { return "element key end is \(end.count) bytes, \(keyType) needs \(keyLength)" }
        }
        switch mapping {
        case nil:
            return elements[i].value == nil ? nil : "a set element has no value"
        case .verdict:
            switch elements[i].value {
            case .verdict: return nil
            case nil: return "a map element needs a value"
            case .data: return "element value does not match the map's type"
            }
        case .data(let type):
            switch elements[i].value {
            case .data(let value):
                return value.count == valueLength ? nil : "element value is \(value.count) bytes, \(type) needs \(type.length)"
            case nil: return "a map element needs a value"
            case .verdict: return "element value does not match the map's type"
            }
        }
    }
}
