import NFTables
import ProxyModel

/// Turns forwarding plans into our nftables ruleset: kube-proxy's nftables layout, in our own table.
/// Pure: the same plan always gives the same model, so tests trace packets through it without root.
///
/// New connections are dispatched by verdict maps keyed by `daddr . l4proto . dport` (and
/// `l4proto . dport` for NodePorts), so the cost of the first packet does not grow with the number
/// of Services; each Service port then has a few small chains of its own.
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

    static func value(_ address: IPAddress) -> NFTValue { NFTValue(bytes: address.bytes) }
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

    public func sharedSets() -> [NFTSet] {
        [
            .set(N.clusterIPs, in: table, key: addressType, comment: "Active ClusterIPs"),
            .map(N.serviceIPs, in: table, key: serviceKey, to: .verdict, comment: "ClusterIP, ExternalIP and LoadBalancer IP traffic"),
            .map(N.serviceNodePorts, in: table, key: Self.portKey, to: .verdict, comment: "NodePort traffic"),
            .map(N.firewallIPs, in: table, key: serviceKey, to: .verdict, comment: "destinations that are subject to LoadBalancerSourceRanges"),
            .map(N.noEndpointServices, in: table, key: serviceKey, to: .verdict, comment: "vmap to drop or reject packets to services with no endpoints"),
            .map(N.noEndpointNodePorts, in: table, key: Self.portKey, to: .verdict, comment: "vmap to drop or reject packets to service nodeports with no endpoints"),
            .set(N.hairpinEndpoints, in: table, key: .concat(addressType, addressType), comment: "endpoint . endpoint: a connection DNATed back to its source"),
        ]
    }

    /// The `index`-th map of endpoints (`NFTablesEndpointSlots`).
    public func endpointMap(_ index: Int) -> NFTSet {
        .addressPortMap(N.serviceEndpoints(index), in: table, comment: "endpoints of Service ports, a block of keys per policy chain")
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
        chains[chains.count - 1].rules.insert(rule(N.natPostrouting, [.lookup([saddr, daddr], set: N.hairpinEndpoints), .jump(N.markForMasquerade)],
                                                   comment: "hairpin"), at: 0)
        chains.append(NFTablesChainRules(chain(N.firewallCheck), [rule(N.firewallCheck, [.lookup(serviceKeyFields, vmap: N.firewallIPs)])]))
        chains.append(NFTablesChainRules(chain(N.serviceEndpointsCheck),
                                         [rule(N.serviceEndpointsCheck, [.lookup(serviceKeyFields, vmap: N.noEndpointServices)])]))
        chains.append(NFTablesChainRules(chain(N.nodePortEndpointsCheck), nodePortDestination(nodePorts).map {
            rule(N.nodePortEndpointsCheck, $0 + [.lookup([.l4proto, .thDport], vmap: N.noEndpointNodePorts)])
        }))
        chains.append(NFTablesChainRules(chain(N.clusterIPsCheck), [
            rule(N.clusterIPsCheck, [.lookup([daddr], set: N.clusterIPs), rejectStatement], comment: "Reject traffic to invalid ports of ClusterIPs"),
        ]))
        chains.append(NFTablesChainRules(chain(N.rejectChain), [rule(N.rejectChain, [rejectStatement], comment: "helper for @no-endpoint-services / @no-endpoint-nodeports")]))
        chains.append(NFTablesChainRules(chain(N.markForMasquerade), [rule(N.markForMasquerade, [.setMark(orBits: mark)])]))
        // Masquerade only what was marked, and clear the mark so a re-routed packet is not masqueraded twice.
        chains.append(NFTablesChainRules(chain(N.masquerading), [
            rule(N.masquerading, [.mark(hasBits: mark, isSet: false), .return]),
            rule(N.masquerading, [.setMark(xorBits: mark)]),
            rule(N.masquerading, [.masquerade(fullyRandom: true)]),
        ]))
        chains.append(NFTablesChainRules(chain(N.services),
            [rule(N.services, [.lookup(serviceKeyFields, vmap: N.serviceIPs)])]
            + nodePortDestination(nodePorts).map { rule(N.services, $0 + [.lookup([.l4proto, .thDport], vmap: N.serviceNodePorts)]) }))
        return chains
    }

    // MARK: one Service port

    /// The rules of one Service port; its endpoint-choice chains take their key blocks of
    /// `service-endpoints-M` maps from `slots` (and give back those they no longer need).
    public func serviceRules(_ plan: ServiceForwardingPlan, slots: inout NFTablesEndpointSlots) -> NFTablesServiceRules {
        var out = NFTablesServiceRules()
        let name = plan.name
        let proto = Self.proto(plan.protocol)
        // Each name hashes its base once (SHA-256), not once per use.
        let base = N.serviceBase(name)
        let svcChain = "service-" + base, localChain = "local-" + base, extChain = "external-" + base, fwChain = "firewall-" + base
        // Endpoint names (hashed too) are only needed for affinity sets.
        var endpointBases: [String: String] = [:]
        if plan.affinityTimeoutSeconds != nil {
            for ep in plan.reachableEndpoints { endpointBases[ep.description] = N.endpointBase(name, ep) }
        }
        let internalChain = plan.internalPolicyIsLocal ? localChain : svcChain
        // On every element of this Service port; rule comments go through `rule(…)`.
        let comment = RuleComment.nftables(name.description)
        func key(_ address: IPAddress, _ port: Int) -> NFTValue {
            .concat(Self.value(address), .proto(proto), .port(UInt16(port)))
        }
        func portKey(_ port: Int) -> NFTValue { .concat(.proto(proto), .port(UInt16(port))) }
        func filterVerdict(_ v: TrafficVerdict) -> NFTVerdict? {
            switch v {
            case .forward: nil
            case .reject: .goto(N.rejectChain)
            case .drop: .drop
            }
        }
        let internalFilter = filterVerdict(plan.internalVerdict)
        let externalFilter = filterVerdict(plan.externalVerdict)

        // Frontends: elements of the shared maps.
        for frontend in plan.frontends {
            switch frontend.kind {
            case .clusterIP:
                out.add(NFTSetElement(key: Self.value(plan.clusterIP)), to: N.clusterIPs)
                let k = key(plan.clusterIP, frontend.port)
                if case .forward = plan.internalVerdict {
                    out.add(.verdict(k, .goto(internalChain), comment: comment), to: N.serviceIPs)
                }
                if let internalFilter { out.add(.verdict(k, internalFilter, comment: comment), to: N.noEndpointServices) }
            case .externalIP, .loadBalancer:
                guard let address = frontend.address else { continue }
                let k = key(address, frontend.port)
                if plan.hasAnyEndpoints { out.add(.verdict(k, .goto(extChain), comment: comment), to: N.serviceIPs) }
                if frontend.kind == .loadBalancer && plan.filtersLoadBalancerSources {
                    out.add(.verdict(k, .goto(fwChain), comment: comment), to: N.firewallIPs)
                }
                if let externalFilter { out.add(.verdict(k, externalFilter, comment: comment), to: N.noEndpointServices) }
            case .nodePort:
                let k = portKey(frontend.port)
                if plan.hasAnyEndpoints { out.add(.verdict(k, .goto(extChain), comment: comment), to: N.serviceNodePorts) }
                if let externalFilter { out.add(.verdict(k, externalFilter, comment: comment), to: N.noEndpointNodePorts) }
            }
        }

        // No endpoints at all: only the reject elements above, no chains (as kube-proxy).
        guard plan.hasAnyEndpoints else {
            slots.release(name)
            return out
        }

        // Source ranges: sources outside them are dropped before DNAT.
        if plan.filtersLoadBalancerSources {
            var allowed = plan.loadBalancerSourceRanges
            if plan.loadBalancerAllowsNodeSources {
                for f in plan.frontends where f.kind == .loadBalancer {
                    if let a = f.address { allowed.append(CIDR(address: a, prefixLength: family == .ipv4 ? 32 : 128)) }
                }
            }
            out.chains.append(NFTablesChainRules(chain(fwChain), [
                rule(fwChain, [.match(saddr, negated: true, anyOf: allowed.map(Self.prefix)), .drop], comment: "\(name) loadBalancerSourceRanges"),
            ]))
        }

        // External traffic: masquerade or the Local-policy special cases, then the policy chain.
        if plan.isExternallyAccessible {
            var rules: [NFTRule] = []
            if plan.masquerade.externalAlways {
                rules.append(rule(extChain, [.jump(N.markForMasquerade)], comment: "masquerade traffic from outside the cluster"))
            } else if plan.usesClusterEndpoints {
                let pods = plan.masquerade.externalLocalPodSources
                if !pods.isEmpty {
                    rules.append(rule(extChain, [sourceMatch(pods, negated: false), .goto(svcChain)], comment: "pod traffic for \(name) external destinations"))
                }
                if plan.masquerade.externalLocalNodeSourcesToCluster {
                    rules.append(rule(extChain, [Self.fibSaddrTypeLocal, .jump(N.markForMasquerade)], comment: "masquerade local traffic"))
                    rules.append(rule(extChain, [Self.fibSaddrTypeLocal, .goto(svcChain)], comment: "route local traffic to the cluster endpoints"))
                }
            }
            if !plan.externalVerdict.endpoints.isEmpty {
                rules.append(rule(extChain, [.goto(plan.externalPolicyIsLocal ? localChain : svcChain)]))
            }
            out.chains.append(NFTablesChainRules(chain(extChain), rules))
        }

        let masqueradeInternal: [NFTRule] = {
            let match: [NFTStatement] = [.match(daddr, Self.value(plan.clusterIP)), .match(.l4proto, .proto(proto)), .match(.thDport, .port(UInt16(plan.port)))]
            if plan.masquerade.internalFromAnySource {
                return [rule(internalChain, match + [.jump(N.markForMasquerade)], comment: "masqueradeAll")]
            }
            let pods = plan.masquerade.internalUnlessFrom
            guard !pods.isEmpty else { return [] }
            return [rule(internalChain, match + [sourceMatch(pods, negated: true), .jump(N.markForMasquerade)], comment: "masquerade off-cluster sources")]
        }()

        for (local, used, chainName, endpoints) in [(false, plan.usesClusterEndpoints, svcChain, plan.clusterEndpoints),
                                                     (true, plan.usesLocalEndpoints, localChain, plan.localEndpoints)] {
            let owner = NFTablesEndpointSlots.Owner(service: name, local: local)
            guard used else { slots.release(owner); continue }
            let masq = internalChain == chainName ? masqueradeInternal : []
            let choice = endpointChoice(plan, endpoints, bases: endpointBases, in: chainName, owner: owner, slots: &slots, into: &out)
            out.chains.append(NFTablesChainRules(chain(chainName), masq + choice))
        }
        for ep in plan.reachableEndpoints {
            let a = Self.value(ep.address)
            out.add(NFTSetElement(key: .concat(a, a)), to: N.hairpinEndpoints)
            if let timeout = plan.affinityTimeoutSeconds {
                out.sets.append(.set("affinity-" + endpointBases[ep.description]!, in: table, key: addressType, flags: [.dynamic, .timeout],
                                     timeout: .seconds(timeout)))
            }
        }
        return out
    }

    /// The endpoint choice of one policy chain. Without affinity it is one rule,
    /// `dnat to numgen inc|random mod N offset BASE map @service-endpoints-M`, over the chain's block
    /// of keys in a shared map, `BASE + i : address . port` for its N endpoints: round-robin
    /// (`inc`) or uniform (`random`). An endpoint replaced changes elements only, which the kernel
    /// commits without revalidating the table's chains (a changed rule makes it revalidate all of
    /// them). kube-proxy's `numgen … vmap { … }` with an anonymous map to per-endpoint chains costs
    /// a chain per endpoint and a set per Service, and with thousands of sets a full sync is
    /// quadratic (see `NFTablesEndpointSlots` for why the maps are shared a hundred-odd chains each).
    ///
    /// With ClientIP affinity the rule needs the endpoint's identity (the affinity set to look up
    /// and update), so it is a rule per endpoint: affinity lookups first, then the i-th of n rules
    /// matches `numgen inc mod (n-i) 0` (every (n-i)-th packet reaching it), the last always. The
    /// same rules stand in for a chain with more endpoints than a key block may hold.
    func endpointChoice(_ plan: ServiceForwardingPlan, _ endpoints: [Endpoint], bases: [String: String], in chainName: String,
                        owner: NFTablesEndpointSlots.Owner, slots: inout NFTablesEndpointSlots,
                        into out: inout NFTablesServiceRules) -> [NFTRule] {
        let proto = Self.proto(plan.protocol)
        let mode: NFTExpression.NumgenMode = config.endpointPick == .roundRobin ? .inc : .random
        let n = endpoints.count
        if plan.affinityTimeoutSeconds == nil, let block = slots.block(for: owner, endpoints: n) {
            let map = N.serviceEndpoints(block.map)
            out.elements[map, default: []] += endpoints.enumerated().map { i, ep in
                NFTSetElement(key: .integer(block.base + UInt32(i)), value: .data(.concat(Self.value(ep.address), .port(UInt16(ep.port)))))
            }
            return [rule(chainName, [.match(.l4proto, .proto(proto)),
                                     .dnat(numgen: mode, modulus: UInt32(n), offset: block.base, map: map, family: table.family)])]
        }
        slots.release(owner)
        func toEndpoint(_ ep: Endpoint) -> [NFTStatement] {
            var statements: [NFTStatement] = []
            if let base = bases[ep.description] { statements.append(.dynset(.update, set: "affinity-" + base, key: [saddr])) }
            statements.append(.match(.l4proto, .proto(proto)))
            statements.append(.dnat(to: Self.value(ep.address), port: UInt16(ep.port), family: table.family))
            return statements
        }
        var rules: [NFTRule] = []
        if plan.affinityTimeoutSeconds != nil {
            rules = endpoints.map { ep in rule(chainName, [.lookup([saddr], set: "affinity-" + bases[ep.description]!)] + toEndpoint(ep)) }
        }
        for (i, ep) in endpoints.enumerated() {
            let pick: [NFTStatement] = i == n - 1 ? [] : [.numgen(mode, modulus: UInt32(n - i), equals: 0)]
            rules.append(rule(chainName, pick + toEndpoint(ep), comment: "\(ep)"))
        }
        return rules
    }
}
