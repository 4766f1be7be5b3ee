import ProxyModel

/// The transport protocols whose conntrack entries we clear (TCP ends its own; see `StaleFlow`).
public enum ConntrackProtocol: UInt8, Sendable, Hashable, CaseIterable {
    case tcp = 6
    case udp = 17
    case sctp = 132

    public init?(_ proto: TransportProtocol) {
        switch proto {
        case .tcp: self = .tcp
        case .udp: self = .udp
        case .sctp: self = .sctp
        }
    }
}

/// One direction of a conntrack entry: who sent to whom.
public struct ConntrackTuple: Hashable, Sendable, CustomStringConvertible {
    public var source: IPAddress
    public var destination: IPAddress
    public var `protocol`: UInt8
    public var sourcePort: UInt16
    public var destinationPort: UInt16

    public init(source: IPAddress, destination: IPAddress, protocol: UInt8, sourcePort: UInt16, destinationPort: UInt16) {
        self.source = source
        self.destination = destination
        self.protocol = `protocol`
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
    }

    public var description: String { "proto=\(`protocol`) src=\(source):\(sourcePort) dst=\(destination):\(destinationPort)" }
}

/// A conntrack entry as the kernel reports it: the original direction (client → what it dialled)
/// and the reply direction (who answers → client); a DNAT shows as a reply source that differs from
/// the original destination.
public struct ConntrackFlow: Hashable, Sendable, CustomStringConvertible {
    public var original: ConntrackTuple
    public var reply: ConntrackTuple
    public var zone: UInt16

    public init(original: ConntrackTuple, reply: ConntrackTuple, zone: UInt16 = 0) {
        self.original = original
        self.reply = reply
        self.zone = zone
    }

    public var family: IPAddress.Family { original.source.family }

    public var description: String { "\(original) reply \(reply)" + (zone == 0 ? "" : " zone=\(zone)") }
}

/// Which entries to delete, in kube-proxy's terms.
public enum ConntrackFilter: Hashable, Sendable, CustomStringConvertible {
    /// Flows a client opened to this address and port (a Service address that went away or came up).
    case originalDestination(IPAddress, port: UInt16, ConntrackProtocol)
    /// Flows that were NATed to this endpoint (their reply comes from it, but they were addressed elsewhere).
    case natedTo(IPAddress, port: UInt16, ConntrackProtocol)

    public var family: IPAddress.Family {
        switch self {
        case .originalDestination(let ip, _, _), .natedTo(let ip, _, _): ip.family
        }
    }

    public func matches(_ flow: ConntrackFlow) -> Bool {
        switch self {
        case let .originalDestination(ip, port, proto):
            return flow.original.protocol == proto.rawValue && flow.original.destination == ip && flow.original.destinationPort == port
        case let .natedTo(ip, port, proto):
            let natted = flow.reply.source != flow.original.destination || flow.reply.sourcePort != flow.original.destinationPort
            return natted && flow.reply.protocol == proto.rawValue && flow.reply.source == ip && flow.reply.sourcePort == port
        }
    }

    public var description: String {
        switch self {
        case let .originalDestination(ip, port, proto): "\(proto) to \(ip.isIPv4 ? "\(ip)" : "[\(ip)]"):\(port)"
        case let .natedTo(ip, port, proto): "\(proto) NATed to \(ip.isIPv4 ? "\(ip)" : "[\(ip)]"):\(port)"
        }
    }
}
