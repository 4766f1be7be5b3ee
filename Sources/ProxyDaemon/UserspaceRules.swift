import ProxyModel
import UserspaceProxy

/// Translates a snapshot into the userspace proxy's forwarding rules: one rule per TCP/UDP Service
/// port with a NodePort, listening on the NodePort addresses of the Service's families, forwarding
/// to the endpoints its external traffic policy selects; and, when redirects are on, one rule per
/// portal (see `PortalPorts`), listening on the wildcard addresses at the portal's port.
enum UserspaceRules {
    static func rules(for snapshot: ProxySnapshot, nodePortAddresses: [ProxyModel.IPAddress]) -> [ForwardingRule] {
        var rules: [ForwardingRule] = []
        for service in snapshot.sortedServicePorts where service.nodePort != 0 {
            guard let proto = proxyProtocol(service.protocol) else { continue }
            let families = Set(service.clusterIPs.map(\.family))
            let listen = nodePortAddresses.filter { families.contains($0.family) }.compactMap {
                try? ProxyAddress(host: $0.description, port: UInt16(service.nodePort))
            }
            guard !listen.isEmpty, let selection = snapshot.endpointSelection(for: service.name) else { continue }
            rules.append(ForwardingRule(name: ruleName(service.name, nil), protocol: proto, listenAddresses: listen,
                                        backends: backends(selection.externalEndpoints(for: service), families: families),
                                        affinityTimeout: affinity(service)))
        }
        return rules
    }

    /// The portals `snapshot` needs: every TCP/UDP Service port one for its ClusterIPs, and one
    /// more when it has ExternalIPs.
    static func portals(in snapshot: ProxySnapshot) -> [PortalKey] {
        snapshot.sortedServicePorts.flatMap { service -> [PortalKey] in
            guard proxyProtocol(service.protocol) != nil else { return [] }
            let cluster = PortalKey(servicePort: service.name, frontend: .clusterIP)
            return service.externalIPs.isEmpty ? [cluster] : [cluster, PortalKey(servicePort: service.name, frontend: .externalIP)]
        }
    }

    /// The ports no portal may take: the NodePorts, per protocol.
    static func nodePorts(in snapshot: ProxySnapshot) -> [TransportProtocol: Set<Int>] {
        var ports: [TransportProtocol: Set<Int>] = [:]
        for service in snapshot.servicePorts.values where service.nodePort != 0 {
            ports[service.protocol, default: []].insert(service.nodePort)
        }
        return ports
    }

    /// One rule per portal in `ports`: on 0.0.0.0 and/or [::] (the families of the addresses
    /// redirected to it) at its port, to the endpoints of the frontend's traffic policy. Wildcards,
    /// because a redirect delivers to the incoming interface's address or to 127.0.0.1 / ::1.
    static func portalRules(for snapshot: ProxySnapshot, ports: [PortalKey: Int]) -> [ForwardingRule] {
        var rules: [ForwardingRule] = []
        for (key, port) in ports.sorted(by: { $0.key < $1.key }) {
            guard let service = snapshot.servicePorts[key.servicePort], let proto = proxyProtocol(service.protocol),
                  let selection = snapshot.endpointSelection(for: service.name) else { continue }
            let addresses = key.frontend == .clusterIP ? service.clusterIPs : service.externalIPs
            let families = Set(addresses.map(\.family))
            let listen = [ProxyModel.IPAddress.Family.ipv4, .ipv6].filter(families.contains).compactMap {
                try? ProxyAddress(host: $0 == .ipv4 ? "0.0.0.0" : "::", port: UInt16(port))
            }
            let endpoints = key.frontend == .clusterIP ? selection.internalEndpoints(for: service) : selection.externalEndpoints(for: service)
            rules.append(ForwardingRule(name: ruleName(service.name, key.frontend), protocol: proto, listenAddresses: listen,
                                        backends: backends(endpoints, families: Set(service.clusterIPs.map(\.family))),
                                        affinityTimeout: affinity(service)))
        }
        return rules
    }

    /// A rule's name: the Service port's (`ns/name:port`) for its NodePort, with the frontend after
    /// a space for a portal. Logs tell them apart; metrics add them up per Service port.
    static func ruleName(_ servicePort: ServicePortName, _ portal: PortalFrontend?) -> String {
        portal.map { "\(servicePort) \($0.rawValue)" } ?? servicePort.description
    }

    /// The Service port a rule named by `ruleName` belongs to, as metrics label it.
    static func servicePortLabel(ofRule name: String) -> String {
        String(name.prefix { $0 != " " })
    }

    private static func proxyProtocol(_ proto: TransportProtocol) -> ProxyProtocol? {
        switch proto {
        case .tcp: .tcp
        case .udp: .udp
        case .sctp: nil   // no SCTP in userspace: the rule backends carry it
        }
    }

    private static func backends(_ endpoints: [Endpoint], families: Set<ProxyModel.IPAddress.Family>) -> [ProxyAddress] {
        endpoints.filter { families.contains($0.address.family) }
            .compactMap { try? ProxyAddress(host: $0.address.description, port: UInt16($0.port)) }
    }

    private static func affinity(_ service: ServicePort) -> Duration? {
        switch service.sessionAffinity {
        case .none: nil
        case .clientIP(let seconds): .seconds(seconds)
        }
    }
}
