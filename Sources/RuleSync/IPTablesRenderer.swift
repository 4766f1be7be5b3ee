import ProxyModel

/// What one Service port contributes to the ruleset: rules in the shared dispatch chains, and chains
/// of its own. The unit a partial restore rewrites.
public struct IPTablesServiceRules: Sendable, Hashable {
    /// Rules appended to shared chains (SKP-SERVICES, SKP-NODEPORTS, filter chains), by chain.
    public var dispatch: [IPTablesChainRef: [String]] = [:]
    /// SKP-SVC/SVL/EXT/FW/SEP chains, in a stable order.
    public var chains: [IPTablesChainRef: [String]] = [:]

    public init() {}

    mutating func add(_ chain: IPTablesChainRef, _ rule: String) { dispatch[chain, default: []].append(rule) }

    public var ruleCount: Int {
        dispatch.values.reduce(0) { $0 + $1.count } + chains.values.reduce(0) { $0 + $1.count }
    }

    public func ruleCount(_ table: IPTablesTable) -> Int {
        dispatch.reduce(0) { $0 + ($1.key.table == table ? $1.value.count : 0) }
            + chains.reduce(0) { $0 + ($1.key.table == table ? $1.value.count : 0) }
    }
}

/// Turns forwarding plans into iptables rules, kube-proxy's layout with our prefix. Pure: the same
/// plan always gives the same text, so tests can trace packets through it without root.
public struct IPTablesRenderer: Sendable {
    public let config: RuleSyncConfig
    public let family: IPAddress.Family

    public init(config: RuleSyncConfig, family: IPAddress.Family) {
        self.config = config
        self.family = family
    }

    typealias C = IPTablesChains

    static let natServices = IPTablesChainRef(.nat, C.services)
    static let natNodePorts = IPTablesChainRef(.nat, C.nodePorts)
    static let filterServices = IPTablesChainRef(.filter, C.services)
    static let filterExternal = IPTablesChainRef(.filter, C.externalServices)
    static let filterNodePorts = IPTablesChainRef(.filter, C.nodePorts)
    static let filterFirewall = IPTablesChainRef(.filter, C.firewall)

    /// The chains every service's rules are added to; `natServices` ends with the NodePort catch-all.
    public static let dispatchChains: [IPTablesChainRef] = [
        natServices, natNodePorts, filterServices, filterExternal, filterNodePorts, filterFirewall,
    ]

    var podRanges: [CIDR] { config.clusterCIDRs(of: family) }
    var markHex: String { "0x" + String(config.masqueradeMark, radix: 16) }

    // MARK: chains shared by every Service

    /// Our shared chains with their fixed rules. Dispatch chains hold only what is not per-Service:
    /// the NodePort catch-all at the end of nat SKP-SERVICES.
    public func globalChains(nodePorts: NodePortScope) -> [IPTablesChainRef: [String]] {
        var chains: [IPTablesChainRef: [String]] = [:]
        for ref in IPTablesRenderer.dispatchChains { chains[ref] = [] }
        chains[IPTablesRenderer.natServices] = nodePortDestinations(nodePorts).map { "\($0) -j \(C.nodePorts)" }
        // Masquerade only what was marked, and clear the mark so a re-routed packet is not masqueraded twice.
        chains[IPTablesChainRef(.nat, C.postrouting)] = [
            "-m mark ! --mark \(markHex)/\(markHex) -j RETURN",
            "-j MARK --xor-mark \(markHex)",
            "-j MASQUERADE --random-fully",
        ]
        chains[IPTablesChainRef(.nat, C.markMasquerade)] = ["-j MARK --or-mark \(markHex)"]
        if podRanges.count > 1 {
            chains[IPTablesChainRef(.nat, C.masqueradeOffCluster)] =
                podRanges.map { "-s \($0) -j RETURN" } + ["-j \(C.markMasquerade)"]
        }
        // A packet the conntrack state machine calls INVALID (out of window, e.g. after a lost RST)
        // would otherwise be forwarded un-NATed and answered by the pod with a reset that kills the
        // real connection (kubernetes#74839); kube-proxy drops it unless the node runs be_liberal.
        let invalid = config.conntrackTCPLiberal ? [] : [IPTablesRenderer.invalidDropRule]
        // Service traffic may be forwarded even when the FORWARD policy is DROP.
        chains[IPTablesChainRef(.filter, C.forward)] = invalid + [
            "-m mark --mark \(markHex)/\(markHex) -j ACCEPT",
            "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        ]
        // route_localnet lets packets from other hosts to 127.0.0.0/8 in, where services bound to
        // localhost would answer them (kubernetes#90259): kube-proxy's (and kubelet's) KUBE-FIREWALL
        // rule drops those that were not DNATed here. Empty when localhost NodePorts are off.
        chains[IPTablesChainRef(.filter, C.localnetFirewall)] = servesLocalhostNodePorts ? [
            "-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m comment --comment \"block incoming localnet connections\" "
                + "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
        ] : []
        return chains
    }

    /// The rule in filter SKP-FORWARD whose packet counter is
    /// `kubeproxy_iptables_ct_state_invalid_dropped_packets_total`.
    public static let invalidDropRule = "-m conntrack --ctstate INVALID -j DROP"

    /// IPv4 NodePorts answer on 127.0.0.0/8 too (`localhostNodePorts`, with `route_localnet`), as
    /// kube-proxy's iptables mode: only when the IPv4 `nodePortAddresses` reach loopback.
    public var servesLocalhostNodePorts: Bool {
        // `primary` is never loopback (upstream turns it into the node IP's /32 before this check).
        family == .ipv4 && config.localhostNodePorts && !config.nodePortAddressesPrimary
            && NodePortLoopback.configIncludesIPv4Loopback(config.nodePortAddresses)
    }

    /// Destination matches of node-local addresses that accept NodePorts. The plan's scope never
    /// holds loopback (`NodePortLoopback`); IPv4 loopback comes back with `servesLocalhostNodePorts`.
    func nodePortDestinations(_ scope: NodePortScope) -> [String] {
        switch scope {
        case .allLocalAddresses:
            if servesLocalhostNodePorts { return ["-m addrtype --dst-type LOCAL"] }
            return ["-m addrtype --dst-type LOCAL ! -d \(NodePortLoopback.range(family))"]
        case .localAddresses(let cidrs):
            let all = servesLocalhostNodePorts ? cidrs + [NodePortLoopback.ipv4] : cidrs
            return all.map { "-d \($0) -m addrtype --dst-type LOCAL" }
        }
    }

    // MARK: one Service port

    public func serviceRules(_ plan: ServiceForwardingPlan, nodePorts: NodePortScope) -> IPTablesServiceRules {
        var out = IPTablesServiceRules()
        let name = plan.name
        let proto = "-p " + plan.protocol.rawValue.lowercased()
        let svcChain = C.clusterPolicy(name)
        let svlChain = C.localPolicy(name)
        let extChain = C.external(name)
        let fwChain = C.firewall(name)
        let internalChain = plan.internalPolicyIsLocal ? svlChain : svcChain
        let lbChain = plan.filtersLoadBalancerSources ? fwChain : extChain
        func match(_ address: IPAddress, _ port: Int) -> String { "-d \(address) \(proto) --dport \(port)" }
        // Names come from tenants: `RuleComment` quotes, escapes and cuts them to one inert argument.
        func comment(_ what: String) -> String { "-m comment --comment " + RuleComment.iptables("\(name) \(what)") }
        func verdictTarget(_ v: TrafficVerdict) -> String { v == .reject ? "REJECT" : "DROP" }

        let internalVerdict = plan.internalVerdict
        let externalVerdict = plan.externalVerdict
        let noEndpointsNote = plan.hasAnyEndpoints ? "has no local endpoints" : "has no endpoints"

        // Dispatch: frontends to this Service's chains (nat), or to REJECT/DROP (filter).
        for frontend in plan.frontends {
            switch frontend.kind {
            case .clusterIP:
                let m = match(plan.clusterIP, frontend.port)
                if case .forward = internalVerdict {
                    out.add(IPTablesRenderer.natServices, "\(m) \(comment("cluster IP")) -j \(internalChain)")
                } else {
                    out.add(IPTablesRenderer.filterServices, "\(m) \(comment(noEndpointsNote)) -j \(verdictTarget(internalVerdict))")
                }
            case .externalIP, .loadBalancer:
                guard let address = frontend.address else { continue }
                let m = match(address, frontend.port)
                let isLB = frontend.kind == .loadBalancer
                if plan.hasAnyEndpoints {
                    out.add(IPTablesRenderer.natServices,
                            "\(m) \(comment(isLB ? "loadbalancer IP" : "external IP")) -j \(isLB ? lbChain : extChain)")
                }
                if isLB && plan.filtersLoadBalancerSources {
                    out.add(IPTablesRenderer.filterFirewall, "\(m) \(comment("traffic not accepted by \(fwChain)")) -j DROP")
                }
                if externalVerdict.endpoints.isEmpty {
                    out.add(IPTablesRenderer.filterExternal, "\(m) \(comment(noEndpointsNote)) -j \(verdictTarget(externalVerdict))")
                }
            case .nodePort:
                if plan.hasAnyEndpoints {
                    out.add(IPTablesRenderer.natNodePorts, "\(proto) --dport \(frontend.port) \(comment("node port")) -j \(extChain)")
                }
                if externalVerdict.endpoints.isEmpty {
                    for dst in nodePortDestinations(nodePorts) {
                        out.add(IPTablesRenderer.filterExternal,
                                "\(dst) \(proto) --dport \(frontend.port) \(comment(noEndpointsNote)) -j \(verdictTarget(externalVerdict))")
                    }
                }
            }
        }
        if plan.healthCheckNodePort != 0 {
            out.add(IPTablesRenderer.filterNodePorts,
                    "-p tcp --dport \(plan.healthCheckNodePort) \(comment("health check node port")) -j ACCEPT")
        }

        // No endpoints at all: only the filter rules above, no nat chains (as kube-proxy).
        guard plan.hasAnyEndpoints else { return out }

        // External traffic: masquerade or Local-policy special cases, then the policy chain.
        if plan.isExternallyAccessible {
            var rules: [String] = []
            if plan.masquerade.externalAlways {
                rules.append("-j \(C.markMasquerade)")
            } else {
                if plan.usesClusterEndpoints {
                    for range in plan.masquerade.externalLocalPodSources { rules.append("-s \(range) -j \(svcChain)") }
                    if plan.masquerade.externalLocalNodeSourcesToCluster {
                        rules.append("-m addrtype --src-type LOCAL -j \(C.markMasquerade)")
                        rules.append("-m addrtype --src-type LOCAL -j \(svcChain)")
                    }
                }
            }
            if !externalVerdict.endpoints.isEmpty {
                rules.append("-j \(plan.externalPolicyIsLocal ? svlChain : svcChain)")
            }
            out.chains[IPTablesChainRef(.nat, extChain)] = rules
        }

        // Source ranges: accepted sources go on; the rest falls through un-NATed to the filter DROP.
        if plan.filtersLoadBalancerSources {
            var rules = plan.loadBalancerSourceRanges.map { "-s \($0) -j \(extChain)" }
            if plan.loadBalancerAllowsNodeSources {
                for f in plan.frontends where f.kind == .loadBalancer {
                    if let a = f.address { rules.append("-s \(a) -j \(extChain)") }
                }
            }
            out.chains[IPTablesChainRef(.nat, fwChain)] = rules
        }

        let clusterIPMatch = match(plan.clusterIP, plan.port)
        let masqueradeInternal: [String] = {
            if plan.masquerade.internalFromAnySource { return ["\(clusterIPMatch) -j \(C.markMasquerade)"] }
            switch plan.masquerade.internalUnlessFrom.count {
            case 0: return []
            case 1: return ["\(clusterIPMatch) ! -s \(plan.masquerade.internalUnlessFrom[0]) -j \(C.markMasquerade)"]
            default: return ["\(clusterIPMatch) -j \(C.masqueradeOffCluster)"]
            }
        }()

        if plan.usesClusterEndpoints {
            let masq = internalChain == svcChain ? masqueradeInternal : []
            out.chains[IPTablesChainRef(.nat, svcChain)] = masq + endpointChoice(plan, plan.clusterEndpoints)
        }
        if plan.usesLocalEndpoints {
            let masq = internalChain == svlChain ? masqueradeInternal : []
            out.chains[IPTablesChainRef(.nat, svlChain)] = masq + endpointChoice(plan, plan.localEndpoints)
        }
        for ep in plan.reachableEndpoints where IPTablesRenderer.needsEndpointChain(plan, ep) {
            let sep = C.endpoint(name, ep)
            let affinity = plan.affinityTimeoutSeconds != nil ? "-m recent --name \(sep) --set " : ""
            out.chains[IPTablesChainRef(.nat, sep)] = [
                "-s \(ep.address) -j \(C.markMasquerade)",
                "\(proto) \(affinity)-j DNAT --to-destination \(ep)",
            ]
        }
        return out
    }

    /// Whether an endpoint needs its own `SKP-SEP-` chain, or its DNAT can sit in the Service chain
    /// (one rule instead of three, no chain: the main cost of `iptables-nft-restore`). It needs one
    /// for ClientIP affinity (the chain names its `recent` list) and for hairpin masquerade, which
    /// only an endpoint that can be the packet's own source requires: a pod on this node, or any
    /// endpoint of a Service whose external Local policy sends pod sources (from any node) to the
    /// cluster endpoints. Traffic from other nodes' pods otherwise reaches us already DNATed by
    /// their own node, or through external chains that masquerade it.
    static func needsEndpointChain(_ plan: ServiceForwardingPlan, _ ep: Endpoint) -> Bool {
        plan.affinityTimeoutSeconds != nil || ep.isLocal || (plan.externalPolicyIsLocal && plan.isExternallyAccessible)
    }

    /// Affinity lookups first, then one rule per endpoint: the i-th of n matches every (n-i)-th packet
    /// reaching it (round-robin) or with probability 1/(n-i) (random); the last always matches.
    func endpointChoice(_ plan: ServiceForwardingPlan, _ endpoints: [Endpoint]) -> [String] {
        var rules: [String] = []
        let proto = "-p " + plan.protocol.rawValue.lowercased()
        let targets = endpoints.map { ep in
            IPTablesRenderer.needsEndpointChain(plan, ep)
                ? "-j \(C.endpoint(plan.name, ep))" : "\(proto) -j DNAT --to-destination \(ep)"
        }
        if let timeout = plan.affinityTimeoutSeconds {
            for ep in endpoints {
                let sep = C.endpoint(plan.name, ep)
                rules.append("-m recent --name \(sep) --rcheck --seconds \(timeout) --reap -j \(sep)")
            }
        }
        let n = targets.count
        for (i, target) in targets.enumerated() {
            if i == n - 1 {
                rules.append(target)
            } else {
                switch config.endpointPick {
                case .roundRobin: rules.append("-m statistic --mode nth --every \(n - i) --packet 0 \(target)")
                case .random: rules.append("-m statistic --mode random --probability \(IPTablesRenderer.probability(n - i)) \(target)")
                }
            }
        }
        return rules
    }

    /// 1/n with ten decimals, as kube-proxy prints it (`%0.10f`).
    static func probability(_ n: Int) -> String {
        let scaled = (10_000_000_000 + n / 2) / n
        let digits = String(scaled)
        if digits.count > 10 { return "1.0000000000" }
        return "0." + String(repeating: "0", count: 10 - digits.count) + digits
    }
}
