/// One line of a WATCH stream: `{"type": "ADDED", "object": {...}}`. An `ERROR` event carries a
/// `Status` (e.g. code 410 when the requested resourceVersion is too old), never an object.
public enum WatchEvent<Item: Decodable & Sendable>: Decodable, Sendable {
    case added(Decoded<Item>)
    case modified(Decoded<Item>)
    case deleted(Decoded<Item>)
    /// Only the resourceVersion is meaningful.
    case bookmark(resourceVersion: String?)
    case error(StatusObject)

    enum CodingKeys: String, CodingKey { case type, object }
    private struct BookmarkObject: Decodable { var metadata: ObjectMeta? }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "ADDED": self = .added(try c.decode(Decoded<Item>.self, forKey: .object))
        case "MODIFIED": self = .modified(try c.decode(Decoded<Item>.self, forKey: .object))
        case "DELETED": self = .deleted(try c.decode(Decoded<Item>.self, forKey: .object))
        case "BOOKMARK": self = .bookmark(resourceVersion: try c.decode(BookmarkObject.self, forKey: .object).metadata?.resourceVersion)
        case "ERROR": self = .error(try c.decode(StatusObject.self, forKey: .object))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown watch event type \"\(type)\"")
        }
    }
}

/// `meta/v1/Status`: how the API server reports a failed request or a watch error.
public struct StatusObject: Codable, Hashable, Sendable {
    public var kind: String?
    public var apiVersion: String?
    public var status: String?
    public var message: String?
    public var reason: String?
    public var code: Int?

    public init(status: String? = "Failure", message: String? = nil, reason: String? = nil, code: Int? = nil) {
        self.kind = "Status"
        self.apiVersion = "v1"
        self.status = status
        self.message = message
        self.reason = reason
        self.code = code
    }

    /// The requested resourceVersion is older than the server keeps: the client must relist.
    public var isGone: Bool { code == 410 || reason == "Expired" || reason == "Gone" }
}
