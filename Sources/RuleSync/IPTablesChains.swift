import ProxyModel

/// The two iptables tables we write.
public enum IPTablesTable: String, Sendable, Hashable, CaseIterable, Comparable {
    case nat, filter

    public static func < (a: IPTablesTable, b: IPTablesTable) -> Bool { a.rawValue < b.rawValue }
}

/// A chain in one table.
public struct IPTablesChainRef: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var table: IPTablesTable
    public var name: String

    public init(_ table: IPTablesTable, _ name: String) {
        self.table = table
        self.name = name
    }

    public var description: String { "\(table.rawValue) \(name)" }
    public static func < (a: IPTablesChainRef, b: IPTablesChainRef) -> Bool { (a.table, a.name) < (b.table, b.name) }
}

/// Our chain names: kube-proxy's layout with our own prefix, so both can run side by side and
/// `iptables-save | grep SKP-` shows exactly what is ours. docs/iptables.md
/// is the contract for these names.
public enum IPTablesChains {
    /// Every chain of ours starts with this; nothing else we touch does.
    public static let prefix = "SKP-"

    // nat
    public static let services = "SKP-SERVICES"
    public static let nodePorts = "SKP-NODEPORTS"
    public static let postrouting = "SKP-POSTROUTING"
    public static let markMasquerade = "SKP-MARK-MASQ"
    /// Only with more than one cluster CIDR per family: RETURNs for pod sources, then marks.
    public static let masqueradeOffCluster = "SKP-MASQ-OFFCLUSTER"
    // filter (SKP-SERVICES and SKP-NODEPORTS exist there too)
    public static let externalServices = "SKP-EXTERNAL-SERVICES"
    public static let firewall = "SKP-PROXY-FIREWALL"
    public static let forward = "SKP-FORWARD"
    /// kube-proxy's KUBE-FIREWALL: the anti-martian drop that goes with localhost NodePorts.
    public static let localnetFirewall = "SKP-FIREWALL"

    /// kube-proxy's `portProtoHash`: base32 of SHA-256 of "namespace/name:port" + lowercased
    /// protocol, first 16 characters. Stable across restarts, so chains are rewritten in place.
    public static func hash(_ name: ServicePortName) -> String {
        hash16(name.description + name.protocol.rawValue.lowercased())
    }

    public static func clusterPolicy(_ name: ServicePortName) -> String { "SKP-SVC-" + hash(name) }
    public static func localPolicy(_ name: ServicePortName) -> String { "SKP-SVL-" + hash(name) }
    public static func external(_ name: ServicePortName) -> String { "SKP-EXT-" + hash(name) }
    public static func firewall(_ name: ServicePortName) -> String { "SKP-FW-" + hash(name) }

    /// kube-proxy's `servicePortEndpointChainName`: the hash also covers the endpoint's `ip:port`.
    public static func endpoint(_ name: ServicePortName, _ endpoint: Endpoint) -> String {
        "SKP-SEP-" + hash16(name.description + name.protocol.rawValue.lowercased() + endpoint.description)
    }

    static func hash16(_ text: String) -> String {
        String(Base32.encode(SHA256.digest(Array(text.utf8))).prefix(16))
    }
}

/// A jump from a standard chain into ours. Added (at the top, as kube-proxy prepends them) only
/// when missing; `cleanup()` deletes exactly these.
public struct IPTablesHook: Sendable, Hashable {
    public var table: IPTablesTable
    /// The standard chain: PREROUTING, INPUT, FORWARD, OUTPUT or POSTROUTING.
    public var chain: String
    /// The rule after `-A CHAIN`.
    public var rule: String
    /// Our chain it jumps to.
    public var target: String

    public init(_ table: IPTablesTable, _ chain: String, _ matches: String, target: String) {
        self.table = table
        self.chain = chain
        self.target = target
        rule = matches.isEmpty ? "-j \(target)" : "\(matches) -j \(target)"
    }

    static let newConnections = "-m conntrack --ctstate NEW"

    /// In kube-proxy's order within each standard chain.
    public static let all: [IPTablesHook] = [
        IPTablesHook(.nat, "PREROUTING", "", target: IPTablesChains.services),
        IPTablesHook(.nat, "OUTPUT", "", target: IPTablesChains.services),
        IPTablesHook(.nat, "POSTROUTING", "", target: IPTablesChains.postrouting),
        IPTablesHook(.filter, "INPUT", newConnections, target: IPTablesChains.firewall),
        IPTablesHook(.filter, "INPUT", "", target: IPTablesChains.nodePorts),
        IPTablesHook(.filter, "INPUT", newConnections, target: IPTablesChains.externalServices),
        IPTablesHook(.filter, "FORWARD", newConnections, target: IPTablesChains.firewall),
        IPTablesHook(.filter, "FORWARD", "", target: IPTablesChains.forward),
        IPTablesHook(.filter, "FORWARD", newConnections, target: IPTablesChains.services),
        IPTablesHook(.filter, "FORWARD", newConnections, target: IPTablesChains.externalServices),
        IPTablesHook(.filter, "OUTPUT", newConnections, target: IPTablesChains.firewall),
        IPTablesHook(.filter, "OUTPUT", newConnections, target: IPTablesChains.services),
        IPTablesHook(.filter, "INPUT", "", target: IPTablesChains.localnetFirewall),
        IPTablesHook(.filter, "OUTPUT", "", target: IPTablesChains.localnetFirewall),
    ]

    public static let standardChains: Set<String> = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]
}
