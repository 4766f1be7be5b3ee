/// The `metadata` of any Kubernetes object: only the fields the proxy reads.
public struct ObjectMeta: Codable, Hashable, Sendable {
    public var name: String?
    public var namespace: String?
    public var resourceVersion: String?
    public var uid: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var deletionTimestamp: String?

    public init(name: String? = nil, namespace: String? = nil, resourceVersion: String? = nil,
                labels: [String: String]? = nil, annotations: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.resourceVersion = resourceVersion
        self.labels = labels
        self.annotations = annotations
    }
}

/// `metadata` of a LIST response: where the next page starts and the version to watch from.
public struct ListMeta: Codable, Hashable, Sendable {
    public var resourceVersion: String?
    public var `continue`: String?
    public var remainingItemCount: Int?
}

/// Kubernetes' `IntOrString` (e.g. `targetPort: 8080` or `targetPort: http`).
public enum IntOrString: Codable, Hashable, Sendable {
    case int(Int)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let n = try? container.decode(Int.self) {
            self = .int(n)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let n): try container.encode(n)
        case .string(let s): try container.encode(s)
        }
    }
}

/// The common head of every object and list: `apiVersion` and `kind`.
public struct TypeMeta: Codable, Hashable, Sendable {
    public var apiVersion: String?
    public var kind: String?

    public init(apiVersion: String? = nil, kind: String? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
    }
}
