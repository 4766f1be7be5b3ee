import ProxyModel

/// A Service port a backend could not render for one address family, left out of the sync so that
/// every other Service port still syncs (one tenant's object must not freeze the node's rules).
/// Its previous rules, if any, are removed with it: what is installed is always what was rendered.
public struct SkippedServicePort: Error, Sendable, Hashable, CustomStringConvertible {
    public var name: ServicePortName
    public var family: IPAddress.Family
    /// What the backend's validation found, e.g. "comment longer than 127 bytes".
    public var reason: String

    public init(name: ServicePortName, family: IPAddress.Family, reason: String) {
        self.name = name
        self.family = family
        self.reason = reason
    }

    public var description: String { "\(name) (\(family)): \(reason)" }
}
