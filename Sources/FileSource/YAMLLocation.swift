import Yams

/// Finds where in a YAML document a field lives, so errors about decoded values can still name a line.
public enum YAMLLocation {
    /// The mark of the node at `path` (mapping keys and sequence indices as strings), or of the
    /// deepest node on the way there that exists. For a mapping key, the key's own mark.
    public static func mark(of path: [String], in root: Node) -> Mark? {
        var node = root
        var best = root.mark
        for part in path {
            switch node {
            case .mapping(let mapping):
                guard let (key, value) = mapping.first(where: { $0.key.string == part }) else { return best }
                best = key.mark ?? best
                node = value
            case .sequence(let sequence):
                guard let i = Int(part), sequence.indices.contains(i) else { return best }
                node = sequence[i]
                best = node.mark ?? best
            default:
                return best
            }
        }
        if case .scalar = node { best = node.mark ?? best }
        return best
    }

    /// The coding path of a `DecodingError` as plain strings, with the field the error is about.
    public static func path(of error: DecodingError) -> (path: [String], reason: String) {
        switch error {
        case .typeMismatch(let type, let context):
            return (context.codingPath.map(\.pathPart), "expected \(describe(type))")
        case .valueNotFound(let type, let context):
            return (context.codingPath.map(\.pathPart), "expected \(describe(type)), found nothing")
        case .keyNotFound(let key, let context):
            return (context.codingPath.map(\.pathPart) + [key.stringValue], "missing")
        case .dataCorrupted(let context):
            return (context.codingPath.map(\.pathPart), context.debugDescription)
        @unknown default:
            return ([], "\(error)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Double.Type: return "a number"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") || name.hasSuffix("Mapping") { return "a mapping" }
            return "a \(name)"
        }
    }
}

extension CodingKey {
    var pathPart: String { intValue.map(String.init) ?? stringValue }
}
