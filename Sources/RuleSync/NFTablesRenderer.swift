import NFTables
import ProxyModel

/// Turns forwarding plans into our flat nftables ruleset: kube-proxy's hooks, priorities and map
/// names, in our own table, with no chain per Service or endpoint.
/// Pure: the same plan always gives the same model, so tests trace packets through it without root.
///
/// New connections are dispatched by sets keyed by `daddr . l4proto . dport` (and `l4proto . dport`
/// for NodePorts), one per target chain (`NFTablesDispatch`), so the cost of the first packet does
/// not grow with the number of Services; the endpoint choice is a chain shared by every Service
/// with the same endpoint count.
public struct NFTablesRenderer: Sendable {
    public let config: RuleSyncConfig
    public let family: IPAddress.Family
    public let table: NFTTable

    public init(config: RuleSyncConfig, family: IPAddress.Family) {
        self.config = config
        self.family = family
        table = NFTablesNames.table(family)
    }

    typealias N = NFTablesNames

    /// Priorities of kube-proxy's nftables mode: the firewall (source ranges) just before DNAT
    /// (dstnat - 10), the other filter checks at the filter priority (0), after DNAT, so they see
    /// what the NAT chains decided. A check before DNAT would drop the node's own connection to a
    /// Local-policy LB IP with no local endpoint, which the NAT chains send to a remote endpoint.
    public static let preDNATPriority = NFTPriority.dstnat - 10
    public static let filterPriority = NFTPriority.filter

    // MARK: family-specific pieces

    var saddr: NFTField { family == .ipv4 ? .ipSaddr : .ip6Saddr }
    var daddr: NFTField { family == .ipv4 ? .ipDaddr : .ip6Daddr }
    var addressType: NFTDataType { family == .ipv4 ? .ipv4Addr : .ipv6Addr }
    var serviceKey: NFTDataType { .concat(addressType, .inetProto, .inetService) }
    static let portKey = NFTDataType.concat(.inetProto, .inetService)
    var loopback: NFTPrefix { NFTPrefix(family == .ipv4 ? "127.0.0.0/8" : "::1/128")! }
    var podRanges: [CIDR] { config.clusterCIDRs(of: family) }

    /// The address in network byte order, without the array `IPAddress.bytes` makes (a full sync
    /// asks for every endpoint's, several times).
    static func value(_ address: IPAddress) -> NFTValue {
        switch address.family {
        case .ipv4: withUnsafeBytes(of: address.ipv4Value.bigEndian) { NFTValue(copying: $0) }
        case .ipv6: withUnsafeBytes(of: (address.high.bigEndian, address.low.bigEndian)) { NFTValue(copying: $0) }
        }
    }
    static func prefix(_ cidr: CIDR) -> NFTPrefix { NFTPrefix(address: cidr.address.bytes, length: cidr.prefixLength)! }
    static func proto(_ p: TransportProtocol) -> NFTProtocol {
        switch p {
        case .tcp: .tcp
        case .udp: .udp
        case .sctp: .sctp
        }
    }

    func chain(_ name: String) -> NFTChain { .regular(name, in: table) }
    /// Comments may hold tenants' names: `RuleComment` makes them fit and keeps them inert.
    func rule(_ chain: String, _ statements: [NFTStatement], comment: String? = nil) -> NFTRule {
        NFTRule(table: table, chain: chain, statements, comment: comment.map(RuleComment.nftables))
    }

    /// `SADDR [!=] PREFIX` for one prefix, `SADDR [!=] { P, Q }` for several.
    func sourceMatch(_ ranges: [CIDR], negated: Bool) -> NFTStatement {
        if ranges.count == 1 { return .match(saddr, negated: negated, prefix: Self.prefix(ranges[0])) }
        return .match(saddr, negated: negated, anyOf: ranges.map(Self.prefix))
    }

    /// `fib saddr type local`: the packet comes from this node.
    static let fibSaddrTypeLocal = NFTStatement.expressions(
        [.fib(flags: 1, result: 3, into: .r1), .cmp(.eq, .r1, .integer(2))],  // NFTA_FIB_F_SADDR, ADDRTYPE, RTN_LOCAL
        description: "fib saddr type local")

    var rejectStatement: NFTStatement { family == .ipv4 ? .reject() : .reject(.icmpv6(.v6PortUnreachable)) }

    /// The destination matches of NodePort traffic: local addresses, all but loopback (DNAT from
    /// loopback needs `route_localnet`), or those inside `nodePortAddresses`.
    func nodePortDestination(_ scope: NodePortScope) -> [[NFTStatement]] {
        switch scope {
        case .allLocalAddresses:
            return [[.fibDaddrTypeLocal(), .match(daddr, negated: true, prefix: loopback)]]
        case .localAddresses(let cidrs):
            guard !cidrs.isEmpty else { return [] }
            return [[.fibDaddrTypeLocal(), cidrs.count == 1 ? .match(daddr, prefix: Self.prefix(cidrs[0]))
                        : .match(daddr, anyOf: cidrs.map(Self.prefix))]]
        }
    }

    // MARK: shared chains and maps

    /// The dispatch, in the order of kube-proxy's per-Service chains: ClusterIP masquerade, policy
    /// Cluster masquerade, the policy-Local short-circuits (pod sources, then node sources,
    /// masqueraded), then the frontend's own pick; each a lookup in a set shared by all Services.
    /// The short-circuits' dispatch chain is entered only for policy-Local frontends.
    func servicesRules(nodePorts: NodePortScope) -> [NFTRule] {
        let name = N.services
        let mark = NFTStatement.jump(N.markForMasquerade)
        var rules: [NFTRule] = []
        if config.masqueradeAll {
            rules.append(rule(name, [.lookup([daddr], set: N.clusterIPs), mark], comment: "masqueradeAll"))
        } else if !podRanges.isEmpty {
            rules.append(rule(name, [.lookup([daddr], set: N.clusterIPs), sourceMatch(podRanges, negated: true), mark], comment: "masquerade off-cluster sources"))
        }
        func dispatch(_ prefix: [NFTStatement], _ key: [NFTField], masquerade: String, localPolicy: String,
                      fallback: NFTablesDispatch, verdicts: NFTablesDispatch) {
            rules.append(rule(name, prefix + [.lookup(key, set: masquerade), mark], comment: "masquerade traffic from outside the cluster"))
            if !podRanges.isEmpty {
                rules.append(rule(name, prefix + [sourceMatch(podRanges, negated: false), .lookup(key, set: localPolicy), .jump(fallback.chainName)],
                                  comment: "short-circuit pod traffic"))
            }
            rules.append(rule(name, prefix + [Self.fibSaddrTypeLocal, .lookup(key, set: localPolicy), mark], comment: "masquerade local traffic"))
            rules.append(rule(name, prefix + [Self.fibSaddrTypeLocal, .lookup(key, set: localPolicy), .jump(fallback.chainName)], comment: "short-circuit local traffic"))
            rules.append(rule(name, prefix + [.jump(verdicts.chainName)]))
        }
        dispatch([], [daddr, .l4proto, .thDport], masquerade: N.masqueradeIPs, localPolicy: N.localPolicyIPs, fallback: .clusterFallbackIPs, verdicts: .serviceIPs)
        for prefix in nodePortDestination(nodePorts) {
            dispatch(prefix, [.l4proto, .thDport], masquerade: N.masqueradeNodePorts, localPolicy: N.localPolicyNodePorts,
                     fallback: .clusterFallbackNodePorts, verdicts: .serviceNodePorts)
        }
        return rules
    }

    public func sharedSets() -> [NFTSet] {
        let frontendFields: [NFTTypeof] = [family == .ipv4 ? .ipDaddr : .ip6Daddr, .l4proto, .thDport]
        return [
            .set(N.clusterIPs, in: table, key: addressType, comment: "Active ClusterIPs"),
            .set(N.masqueradeIPs, in: table, key: serviceKey, comment: "external frontends with policy Cluster: masqueraded"),
            .set(N.masqueradeNodePorts, in: table, key: Self.portKey, comment: "NodePorts with policy Cluster: masqueraded"),
            .set(N.localPolicyIPs, in: table, key: serviceKey, comment: "external frontends with policy Local: node sources masqueraded"),
            .set(N.localPolicyNodePorts, in: table, key: Self.portKey, comment: "NodePorts with policy Local: node sources masqueraded"),
            .frontendSlotMap(N.serviceEndpoints, in: table, key: frontendFields, keyType: serviceKey, comment: "frontend . slot : endpoint"),
            .frontendSlotMap(N.nodePortEndpoints, in: table, key: [.l4proto, .thDport], keyType: Self.portKey, comment: "NodePort . slot : endpoint"),
            .set(N.firewallIPs, in: table, key: serviceKey, comment: "destinations that are subject to LoadBalancerSourceRanges"),
            .set(N.noEndpointServicesReject, in: table, key: serviceKey, comment: "frontends with no endpoints: refused"),
            .set(N.noEndpointServicesDrop, in: table, key: serviceKey, comment: "frontends with a Local policy and no endpoint here: dropped"),
            .set(N.noEndpointNodePortsReject, in: table, key: Self.portKey, comment: "NodePorts with no endpoints: refused"),
            .set(N.noEndpointNodePortsDrop, in: table, key: Self.portKey, comment: "NodePorts with a Local policy and no endpoint here: dropped"),
            .set(N.hairpinEndpoints, in: table, key: .concat(addressType, addressType), comment: "endpoint . endpoint: a connection DNATed back to its source"),
        ] + affinitySets
    }

    /// The shared endpoint-choice chain `pick`: one rule, the frontend and a counter (or random
    /// number) as the key of an endpoints map. Every Service port with the same endpoint count shares it.
    public func pickChain(_ pick: NFTablesPick) -> NFTablesChainRules {
        if let seconds = pick.affinitySeconds {
            return pick.isAffinityRemember ? affinityRememberChain(pick, seconds: seconds) : affinityPickChain(pick, seconds: seconds)
        }
        let mode: NFTExpression.NumgenMode = config.endpointPick == .roundRobin ? .inc : .random
        let name = pick.chainName
        let fields: [NFTField] = pick.nodePort ? [.l4proto, .thDport] : [daddr, .l4proto, .thDport]
        return NFTablesChainRules(chain(name), [
            rule(name, [.dnat(key: fields, numgen: mode, modulus: UInt32(pick.endpoints), offset: pick.local ? NFTablesPick.localBase : 0,
                              map: pick.nodePort ? N.nodePortEndpoints : N.serviceEndpoints, family: table.family)]),
        ])
    }

    public func sharedChains(nodePorts: NodePortScope) -> [NFTablesChainRules] {
        let mark = config.masqueradeMark
        let serviceKeyFields = [daddr, .l4proto, .thDport]
        func base(_ name: String, _ type: NFTChain.ChainType, _ hook: NFTChain.HookPoint, _ priority: Int32, _ jumps: [String], newOnly: Bool) -> NFTablesChainRules {
            let c = NFTChain.base(name, in: table, type: type, hook: hook, priority: priority)
            return NFTablesChainRules(c, jumps.map { rule(name, (newOnly ? [.ctState(.new)] : []) + [.jump($0)]) })
        }
        var chains: [NFTablesChainRules] = [
            base(N.filterPreroutingPreDNAT, .filter, .prerouting, Self.preDNATPriority, [N.firewallCheck], newOnly: true),
            base(N.filterOutputPreDNAT, .filter, .output, Self.preDNATPriority, [N.firewallCheck], newOnly: true),
            base(N.filterInput, .filter, .input, Self.filterPriority, [N.nodePortEndpointsCheck, N.serviceEndpointsCheck], newOnly: true),
            base(N.filterForward, .filter, .forward, Self.filterPriority, [N.serviceEndpointsCheck, N.clusterIPsCheck], newOnly: true),
            base(N.filterOutput, .filter, .output, Self.filterPriority, [N.serviceEndpointsCheck, N.clusterIPsCheck], newOnly: true),
            base(N.natPrerouting, .nat, .prerouting, NFTPriority.dstnat, [N.services], newOnly: false),
            base(N.natOutput, .nat, .output, NFTPriority.dstnat, [N.services], newOnly: false),
            base(N.natPostrouting, .nat, .postrouting, NFTPriority.srcnat, [N.masquerading], newOnly: false),
        ]
        // Hairpin: an endpoint that reached itself through a Service is masqueraded, or its replies
        // would bypass the NAT. One lookup for every endpoint (kube-proxy: a rule per endpoint chain).
        chains[chains.count - 1].rules.insert(rule(N.natPostrouting, [.ctStatusDNAT(), .lookup([saddr, daddr], set: N.hairpinEndpoints), .jump(N.markForMasquerade)],
                                                   comment: "hairpin"), at: 0)
        // `firewall-allow` accepts the allowed sources, one rule per prefix length in use (`NFTablesFirewall.swift`).
        chains.append(NFTablesChainRules(chain(N.firewallCheck), [
            rule(N.firewallCheck, [.lookup(serviceKeyFields, set: N.firewallIPs), .jump(N.firewallAllow)]),
            rule(N.firewallCheck, [.lookup(serviceKeyFields, set: N.firewallIPs), .drop], comment: "loadBalancerSourceRanges"),
        ]))
        chains.append(NFTablesChainRules(chain(N.firewallAllow), []))
        chains.append(NFTablesChainRules(chain(N.serviceEndpointsCheck), [
            rule(N.serviceEndpointsCheck, [.lookup(serviceKeyFields, set: N.noEndpointServicesReject), rejectStatement], comment: "no endpoints"),
            rule(N.serviceEndpointsCheck, [.lookup(serviceKeyFields, set: N.noEndpointServicesDrop), .drop], comment: "no local endpoints"),
        ]))
        chains.append(NFTablesChainRules(chain(N.nodePortEndpointsCheck), nodePortDestination(nodePorts).flatMap { prefix in [
            rule(N.nodePortEndpointsCheck, prefix + [.lookup([.l4proto, .thDport], set: N.noEndpointNodePortsReject), rejectStatement], comment: "no endpoints"),
            rule(N.nodePortEndpointsCheck, prefix + [.lookup([.l4proto, .thDport], set: N.noEndpointNodePortsDrop), .drop], comment: "no local endpoints"),
        ] }))
        // As upstream: a port a ClusterIP does not serve is refused; an address of the Service
        // CIDRs that no Service holds is dropped.
        let serviceCIDRs = config.serviceCIDRs.filter { $0.family == family }
        chains.append(NFTablesChainRules(chain(N.clusterIPsCheck), [
            rule(N.clusterIPsCheck, [.lookup([daddr], set: N.clusterIPs), rejectStatement], comment: "Reject traffic to invalid ports of ClusterIPs"),
        ] + (serviceCIDRs.isEmpty ? [] : [
            rule(N.clusterIPsCheck, [.match(daddr, anyOf: serviceCIDRs.map(Self.prefix)), .drop], comment: "Drop traffic to unallocated ClusterIPs"),
        ])))
        chains.append(NFTablesChainRules(chain(N.markForMasquerade), [rule(N.markForMasquerade, [.setMark(orBits: mark)])]))
        // Masquerade only what was marked, and clear the mark so a re-routed packet is not masqueraded twice.
        chains.append(NFTablesChainRules(chain(N.masquerading), [
            rule(N.masquerading, [.mark(hasBits: mark, isSet: false), .return]),
            rule(N.masquerading, [.setMark(xorBits: mark)]),
            rule(N.masquerading, [.masquerade(fullyRandom: true)]),
        ]))
        chains.append(NFTablesChainRules(chain(N.services), servicesRules(nodePorts: nodePorts)))
        chains += dispatchChains
        // ClientIP affinity: remember where new connections were DNATed (`NFTablesAffinity.swift`).
        for (name, hook) in [(N.affinityPrerouting, NFTChain.HookPoint.prerouting), (N.affinityOutput, .output)] {
            chains.append(NFTablesChainRules(.base(name, in: table, type: .filter, hook: hook, priority: NFTPriority.dstnat + 1),
                                             affinityBaseRules(name)))
        }
        return chains
    }

    // MARK: one Service port

    /// What one Service port adds: elements of the shared sets and maps (its frontends in the
    /// dispatch sets of their picks), and the shared pick chains it needs (`affinity-pick-…` with
    /// ClientIP affinity). No Service port has chains of its own.
    public func serviceRules(_ plan: ServiceForwardingPlan) -> NFTablesServiceRules {
        var out = NFTablesServiceRules()
        let name = plan.name
        let proto = Self.proto(plan.protocol)
        // On every dispatch element of this Service port; rule comments go through `rule(…)`.
        let comment = RuleComment.nftables(name.description)
        func key(_ address: IPAddress, _ port: Int) -> NFTValue {
            .concat(Self.value(address), .proto(proto), .port(UInt16(port)))
        }
        func portKey(_ port: Int) -> NFTValue { .concat(.proto(proto), .port(UInt16(port))) }
        /// The no-endpoint set of a frontend (reject or drop), nil when it forwards.
        func filterSet(_ v: TrafficVerdict, nodePort: Bool) -> String? {
            switch v {
            case .forward: nil
            case .reject: nodePort ? N.noEndpointNodePortsReject : N.noEndpointServicesReject
            case .drop: nodePort ? N.noEndpointNodePortsDrop : N.noEndpointServicesDrop
            }
        }
        let internalFilter = filterSet(plan.internalVerdict, nodePort: false)
        let externalFilter = filterSet(plan.externalVerdict, nodePort: false)
        let nodePortFilter = filterSet(plan.externalVerdict, nodePort: true)
        // Source ranges hold with or without endpoints: a blocked client is dropped, never told
        // "refused" (the firewall runs before the no-endpoint reject).
        let ranges = loadBalancerAllowed(plan)

        for frontend in plan.frontends {
            switch frontend.kind {
            case .clusterIP:
                out.add(NFTSetElement(key: Self.value(plan.clusterIP)), to: N.clusterIPs)
                if let internalFilter { out.add(NFTSetElement(key: key(plan.clusterIP, frontend.port), comment: comment), to: internalFilter) }
            case .externalIP, .loadBalancer:
                guard let address = frontend.address else { continue }
                let k = key(address, frontend.port)
                if frontend.kind == .loadBalancer && !ranges.isEmpty && !Self.allowsEverySource(ranges) {
                    out.add(NFTSetElement(key: k), to: N.firewallIPs)
                    for r in ranges {
                        let length = NFTablesPick.sourceRanges(prefixLength: r.prefixLength)
                        if !out.picks.contains(length) { out.picks.append(length) }
                        out.add(NFTSetElement(key: .concat(k, Self.prefix(r).address)), to: N.sourceRanges(prefixLength: r.prefixLength))
                    }
                }
                if let externalFilter { out.add(NFTSetElement(key: k, comment: comment), to: externalFilter) }
            case .nodePort:
                if let nodePortFilter { out.add(NFTSetElement(key: portKey(frontend.port), comment: comment), to: nodePortFilter) }
            }
        }
        guard plan.hasAnyEndpoints else { return out }
        let reachable = plan.reachableEndpoints
        out.add(reachable.count, to: N.hairpinEndpoints) { list in
            for ep in reachable {
                let a = Self.value(ep.address)
                list.append(NFTSetElement(key: .concat(a, a)))
            }
        }
        /// The pick of `endpoints`, whose slots of `frontend` it fills.
        func pick(_ endpoints: [Endpoint], local: Bool, nodePort: Bool, frontend: NFTValue) -> NFTablesPick {
            let p = NFTablesPick(nodePort: nodePort, local: local, endpoints: endpoints.count, affinitySeconds: plan.affinityTimeoutSeconds)
            if !out.picks.contains(p) { out.picks.append(p) }
            if let seconds = plan.affinityTimeoutSeconds {
                affinityFrontend(endpoints, frontend: frontend, nodePort: nodePort, seconds: seconds, comment: comment, into: &out)
            }
            let base = local ? NFTablesPick.localBase : 0
            let map = nodePort ? N.nodePortEndpoints : N.serviceEndpoints
            out.add(endpoints.count, to: map) { list in
                for (i, ep) in endpoints.enumerated() {
                    list.append(NFTSetElement(key: .concat(frontend, .integer(base + UInt32(i))),
                                              value: .data(.concat(Self.value(ep.address), .port(UInt16(ep.port))))))
                }
            }
            return p
        }
        /// `frontend` into the set of `dispatch` that goes to `pick`.
        func send(_ frontend: NFTValue, _ dispatch: NFTablesDispatch, to pick: NFTablesPick) {
            out.add(NFTSetElement(key: frontend, comment: comment), to: dispatch.setName(pick))
        }
        func external(_ k: NFTValue, nodePort: Bool) {
            let verdicts: NFTablesDispatch = nodePort ? .serviceNodePorts : .serviceIPs
            if !plan.externalPolicyIsLocal {
                guard case .forward(let eps) = plan.externalVerdict else { return }
                out.add(NFTSetElement(key: k), to: nodePort ? N.masqueradeNodePorts : N.masqueradeIPs)
                send(k, verdicts, to: pick(eps, local: false, nodePort: nodePort, frontend: k))
                return
            }
            if plan.usesClusterEndpoints {
                send(k, nodePort ? .clusterFallbackNodePorts : .clusterFallbackIPs, to: pick(plan.clusterEndpoints, local: false, nodePort: nodePort, frontend: k))
                out.add(NFTSetElement(key: k), to: nodePort ? N.localPolicyNodePorts : N.localPolicyIPs)
            }
            if case .forward(let eps) = plan.externalVerdict {
                send(k, verdicts, to: pick(eps, local: true, nodePort: nodePort, frontend: k))
            }
        }
        for frontend in plan.frontends {
            switch frontend.kind {
            case .clusterIP:
                guard case .forward(let eps) = plan.internalVerdict else { continue }
                let k = key(plan.clusterIP, frontend.port)
                send(k, .serviceIPs, to: pick(eps, local: plan.internalPolicyIsLocal, nodePort: false, frontend: k))
            case .externalIP, .loadBalancer:
                if let address = frontend.address { external(key(address, frontend.port), nodePort: false) }
            case .nodePort:
                external(portKey(frontend.port), nodePort: true)
            }
        }
        return out
    }

    /// The source ranges of a Service port's LB IPs, plus the LB IPs themselves when a range holds a
    /// node address (the node's own traffic to its LB IP arrives from that IP), without ranges
    /// inside others (an element that could never decide anything).
    func loadBalancerAllowed(_ plan: ServiceForwardingPlan) -> [CIDR] {
        guard !plan.loadBalancerSourceRanges.isEmpty, plan.frontends.contains(where: { $0.kind == .loadBalancer }) else { return [] }
        var allowed = plan.loadBalancerSourceRanges
        if plan.loadBalancerAllowsNodeSources {
            for f in plan.frontends where f.kind == .loadBalancer {
                if let a = f.address { allowed.append(CIDR(address: a, prefixLength: family == .ipv4 ? 32 : 128)) }
            }
        }
        // Prefixes either nest or are disjoint: keep those no other (wider, or earlier equal) one holds.
        return allowed.enumerated().filter { i, r in
            !allowed.enumerated().contains { j, o in
                j != i && o.prefixLength <= r.prefixLength && o.contains(r.address) && (o.prefixLength < r.prefixLength || j < i)
            }
        }.map(\.element)
    }
}
