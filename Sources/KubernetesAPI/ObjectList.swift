/// One page of a LIST response (`ServiceList`, `EndpointSliceList`, …). Items that do not decode are
/// kept as `.undecodable` with whatever identity could be read, so one bad object never fails a page.
public struct ObjectList<Item: Decodable & Sendable>: Decodable, Sendable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ListMeta
    public var items: [Decoded<Item>]

    enum CodingKeys: String, CodingKey { case apiVersion, kind, metadata, items }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try c.decodeIfPresent(String.self, forKey: .apiVersion)
        kind = try c.decodeIfPresent(String.self, forKey: .kind)
        metadata = try c.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        items = try c.decodeIfPresent([Decoded<Item>].self, forKey: .items) ?? []
    }
}

extension ListMeta {
    public init(resourceVersion: String? = nil, continue token: String? = nil) {
        self.resourceVersion = resourceVersion
        self.continue = token
        self.remainingItemCount = nil
    }
}

/// An object as it came off the wire: decoded, or not, with the reason and the name if it had one.
public enum Decoded<Item: Decodable & Sendable>: Decodable, Sendable {
    case object(Item)
    /// The object's `metadata.namespace` and `metadata.name`, when even those could not be read nil.
    case undecodable(namespace: String?, name: String?, reason: String)

    private struct Identity: Decodable {
        struct Meta: Decodable { var name: String?; var namespace: String? }
        var metadata: Meta?
    }

    public init(from decoder: any Decoder) throws {
        do {
            self = .object(try Item(from: decoder))
        } catch {
            let identity = try? Identity(from: decoder)
            self = .undecodable(namespace: identity?.metadata?.namespace, name: identity?.metadata?.name, reason: Self.describe(error, below: decoder.codingPath.count))
        }
    }

    /// A one-line reason with the coding path within the object, e.g. `spec.ports[0].port: expected Int`.
    static func describe(_ error: any Error, below depth: Int = 0) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.dropFirst(depth).map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
        }
        switch error as? DecodingError {
        case .typeMismatch(let type, let ctx)?: return "\(path(ctx.codingPath)): expected \(type)"
        case .valueNotFound(let type, let ctx)?: return "\(path(ctx.codingPath)): expected \(type), found null"
        case .keyNotFound(let key, let ctx)?: return "\(path(ctx.codingPath + [key])): missing"
        case .dataCorrupted(let ctx)?: return "\(path(ctx.codingPath)): \(ctx.debugDescription)"
        default: return "\(error)"
        }
    }
}
