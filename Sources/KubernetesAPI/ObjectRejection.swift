import ProxyModel

/// Why an API object was not taken into the model. It names the object and the offending field,
/// so a log line (or, for manifests on disk, a file and line) can point at it.
public struct ObjectRejection: Error, Hashable, Sendable, CustomStringConvertible {
    public var kind: String
    public var object: String
    /// Path of the offending field, e.g. `["spec", "ports", "0", "port"]`.
    public var field: [String]
    public var reason: String

    public init(kind: String, object: String, field: [String], reason: String) {
        self.kind = kind
        self.object = object
        self.field = field
        self.reason = reason
    }

    public var fieldPath: String {
        field.reduce(into: "") { path, part in
            if part.allSatisfy(\.isNumber) { path += "[\(part)]" } else { path += path.isEmpty ? part : ".\(part)" }
        }
    }

    public var description: String { "\(kind) \(object): \(fieldPath): \(reason)" }
}

/// Field-by-field validation with the path kept, so every rejection says where it happened.
struct FieldValidator {
    let kind: String
    let object: String

    func reject(_ field: [String], _ reason: String) -> ObjectRejection {
        ObjectRejection(kind: kind, object: object, field: field, reason: reason)
    }

    func address(_ text: String, at field: [String]) throws(ObjectRejection) -> IPAddress {
        // Sloppy, as kube-proxy parses API addresses: old objects may hold leading-zero octets.
        guard let ip = IPAddress(sloppy: text) else { throw reject(field, "\"\(text)\" is not an IP address") }
        return ip
    }

    func port(_ value: Int?, at field: [String], allowZero: Bool = false) throws(ObjectRejection) -> Int {
        guard let value else {
            if allowZero { return 0 }
            throw reject(field, "missing")
        }
        guard (allowZero ? 0 : 1)...65535 ~= value else { throw reject(field, "\(value) is not a port number (1-65535)") }
        return value
    }

    func `protocol`(_ text: String?, at field: [String]) throws(ObjectRejection) -> TransportProtocol {
        guard let p = TransportProtocol(rawValue: text ?? "TCP") else {
            throw reject(field, "\"\(text ?? "")\" is not TCP, UDP or SCTP")
        }
        return p
    }

    func name(_ meta: ObjectMeta, at field: [String] = ["metadata"]) throws(ObjectRejection) -> NamespacedName {
        guard let name = meta.name, !name.isEmpty else { throw reject(field + ["name"], "missing") }
        let namespace = meta.namespace ?? "default"
        // DNS-1123 names are at most 253 characters; anything longer is not a real object.
        guard name.utf8.count <= 253, namespace.utf8.count <= 253 else { throw reject(field + ["name"], "too long") }
        return NamespacedName(namespace: namespace, name: name)
    }
}
