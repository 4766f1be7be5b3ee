import ProxyModel
import UserspaceProxy

/// Translates a snapshot into the userspace proxy's forwarding rules: one rule per TCP/UDP Service
/// port with a NodePort, listening on the NodePort addresses of the Service's families, forwarding
/// to the endpoints its external traffic policy selects.
enum UserspaceRules {
    static func rules(for snapshot: ProxySnapshot, nodePortAddresses: [ProxyModel.IPAddress]) -> [ForwardingRule] {
        var rules: [ForwardingRule] = []
        for service in snapshot.sortedServicePorts where service.nodePort != 0 {
            let proto: ProxyProtocol
            switch service.protocol {
            case .tcp: proto = .tcp
            case .udp: proto = .udp
            case .sctp: continue   // no SCTP in userspace: the rule backends carry it
            }
            let families = Set(service.clusterIPs.map(\.family))
            let listen = nodePortAddresses.filter { families.contains($0.family) }.compactMap {
                try? ProxyAddress(host: $0.description, port: UInt16(service.nodePort))
            }
            guard !listen.isEmpty, let selection = snapshot.endpointSelection(for: service.name) else { continue }
            let backends = selection.externalEndpoints(for: service)
                .filter { families.contains($0.address.family) }
                .compactMap { try? ProxyAddress(host: $0.address.description, port: UInt16($0.port)) }
            let affinity: Duration?
            switch service.sessionAffinity {
            case .none: affinity = nil
            case .clientIP(let seconds): affinity = .seconds(seconds)
            }
            rules.append(ForwardingRule(name: service.name.description, protocol: proto, listenAddresses: listen,
                                        backends: backends, affinityTimeout: affinity))
        }
        return rules
    }
}
