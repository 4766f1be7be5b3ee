import Yams

/// Bounds on what one manifest file may make us do, checked before anything is decoded: a file
/// that exceeds one is refused quickly with its file and line, like any broken edit.
///
/// - Size: the API server takes requests of at most 3 MiB; a file may hold many objects, so 16 MiB.
/// - Nesting: the YAML composer and the decoder recurse once per level; a few thousand levels of
///   `[[[[…` would overflow a thread's stack. Kubernetes objects nest a dozen levels deep.
/// - Expansion: aliases (`*a`) are cheap to compose but are walked once per use by the decoder, so
///   nine levels of nine aliases (the "billion laughs") would take hours. The tree is walked as
///   the decoder would see it, and refused past a node budget.
public struct ManifestLimits: Sendable {
    public var maxBytes = 16 << 20
    public var maxDepth = 64
    public var maxExpandedNodes = 1_000_000

    public init() {}

    public static let standard = ManifestLimits()

    /// Nesting deeper than `maxDepth` in the text, found without parsing: flow brackets outside
    /// quoted scalars and comments, and block indentation (a level takes at least one more column,
    /// so more than `8 × maxDepth` columns is refused too). Returns the 1-based line where it happens.
    func lineTooDeep(in text: String) -> Int? {
        var line = 1, depth = 0, indent = 0
        var atLineStart = true, inComment = false, escaped = false
        var quote: UInt8?   // the quote character of the quoted scalar we are in
        var previous: UInt8 = 0x0A
        for byte in text.utf8 {
            defer { previous = byte }
            if byte == 0x0A {
                line += 1
                indent = 0
                atLineStart = true
                inComment = false
                continue
            }
            if atLineStart {
                if byte == 0x20 {
                    indent += 1
                    if indent > maxDepth * 8 { return line }
                    continue
                }
                atLineStart = false
            }
            if inComment { continue }
            if let q = quote {
                if escaped { escaped = false } else if q == 0x22 && byte == 0x5C { escaped = true } else if byte == q { quote = nil }
                continue
            }
            switch byte {
            case 0x23 where Self.separators.contains(previous): inComment = true                         // #
            case 0x22, 0x27:                                                                                  // " '
                // A quote opens a quoted scalar only where a scalar may start (`a"b` is plain text).
                if Self.separators.contains(previous) || Self.flowIndicators.contains(previous) { quote = byte }
            case 0x5B, 0x7B:                                                                                  // [ {
                depth += 1
                if depth > maxDepth { return line }
            case 0x5D, 0x7D: depth = max(0, depth - 1)                                                        // ] }
            default: break
            }
        }
        return nil
    }

    private static let separators: Set<UInt8> = [0x20, 0x09, 0x0A]           // space, tab, newline
    private static let flowIndicators: Set<UInt8> = [0x5B, 0x7B, 0x2C, 0x3A, 0x2D]   // [ { , : -

    /// The composed document as the decoder will walk it (aliases expanded): false once it holds
    /// more than `maxExpandedNodes` nodes or nests deeper than `maxDepth`.
    func fits(_ node: Node) -> Bool {
        var budget = maxExpandedNodes
        func walk(_ node: Node, depth: Int) -> Bool {
            budget -= 1
            guard budget >= 0, depth <= maxDepth else { return false }
            switch node {
            case .scalar, .alias: return true
            case .sequence(let items): return items.allSatisfy { walk($0, depth: depth + 1) }
            case .mapping(let pairs): return pairs.allSatisfy { walk($0.key, depth: depth + 1) && walk($0.value, depth: depth + 1) }
            }
        }
        return walk(node, depth: 0)
    }
}
