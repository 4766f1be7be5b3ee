import DataplaneScenarios
import NFTables
import ProxyModel
import Testing
@testable import RuleSync

/// The flat ruleset in a real kernel (issue #10): the chain count does not follow the Services,
/// source ranges hold without endpoints, and only Service-redirected connections are hairpinned.
@Suite(.serialized, .enabled(if: Shell.canRunNamespaces, "needs root, ip netns and python3"))
struct NFTablesFlatKernelTests {
    typealias W = ScenarioWorld

    func backend(_ topology: Topology) throws -> NFTablesBackend {
        try NFTablesBackend(config: RuleSyncConfig(clusterCIDRs: [Topology.clusterCIDR]), families: [.ipv4],
                            networkNamespace: "/run/netns/\(topology.node)")
    }

    func chains(_ topology: Topology) throws -> [String] {
        try Shell.run(topology.nodeCommandPrefix + ["nft", "list", "chains", "ip"]).split(separator: "\n")
            .filter { $0.contains("chain ") }.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// `n` Services of a mix (plain, NodePort with policy Local, LB IP with source ranges), two endpoints each.
    func services(_ n: Int) -> ProxySnapshot {
        var snapshot = ProxySnapshot(node: W.node)
        for i in 0..<n {
            let name = ServicePortName(service: NamespacedName(namespace: "flat", name: "s\(i)"), port: "http", protocol: .tcp)
            var port = ServicePort(name: name, clusterIPs: [IPAddress("172.30.\(i / 250 + 1).\(i % 250 + 1)")!], port: 80,
                                   targetPort: .number(Topology.backendPort))
            switch i % 3 {
            case 1:
                port.nodePort = 20000 + i
                port.externalTrafficPolicy = .local
            case 2:
                port.loadBalancerIPs = [IPAddress("192.168.71.\(i % 250 + 1)")!]
                port.loadBalancerSourceRanges = [CIDR("203.0.113.0/24")!]
            default: break
            }
            snapshot.servicePorts[name] = port
            snapshot.endpoints[name] = W.endpoints([1, 2], local: [1])
        }
        return snapshot
    }

    @Test func theChainCountDoesNotGrowFromTenToAThousandServices() throws {
        let topology = try Topology(pods: 2)
        defer { topology.teardown() }
        let backend = try backend(topology)
        _ = try backend.sync(services(10), changes: nil)
        let few = try chains(topology)
        let ten = services(10), thousand = services(1000)
        // 990 Services more outgrow the sets' sizes (768 at ten Services): made anew, larger, by a full sync.
        let grown = try backend.sync(thousand, changes: SnapshotDiff(from: ten, to: thousand))
        #expect(grown.full)
        let size = NFTablesSetSize.hint(elements: try #require(backend.appliedRuleset(.ipv4)).elements(of: NFTablesNames.serviceEndpoints).count)
        #expect(try chains(topology) == few)
        let more = services(1010)
        let report = try backend.sync(more, changes: SnapshotDiff(from: thousand, to: more))
        #expect(!report.full && report.rulesWritten == 0, "10 Services more, within the sizes: map elements only")
        #expect(try chains(topology) == few)
        // The sizes are in the kernel's sets, and `nft` prints them.
        let listed = try Shell.run(topology.nodeCommandPrefix + ["nft", "list", "map", "ip", "swift-kube-proxy", "service-endpoints"])
        #expect(listed.contains("size \(size)\n"), "\(listed.prefix(300))")
        #expect(few.count < 30, "\(few)")
        // And `nft` reads the table back.
        #expect(try Shell.run(topology.nodeCommandPrefix + ["nft", "list", "ruleset"]).contains("map service-endpoints"))
    }

    /// A blocked client of an LB IP is dropped even while the Service has no endpoints (the
    /// firewall runs before the no-endpoint reject); an allowed one is told "refused".
    @Test func sourceRangesHoldWithNoEndpoints() throws {
        let topology = try Topology(pods: 1)
        defer { topology.teardown() }
        let backend = try backend(topology)
        let blocked = W.snapshot([(W.service(loadBalancerIPs: [W.loadBalancerIP], sourceRanges: [CIDR("203.0.113.0/24")!]), [])])
        _ = try backend.sync(blocked, changes: nil)
        #expect(try topology.probe(from: .podClient, Probe(.tcp, W.loadBalancerIP, W.servicePort, timeoutSeconds: 1)) == [.timeout])
        let allowed = W.snapshot([(W.service(loadBalancerIPs: [W.loadBalancerIP], sourceRanges: [CIDR("10.180.100.0/24")!]), [])])
        _ = try backend.sync(allowed, changes: SnapshotDiff(from: blocked, to: allowed))
        #expect(try topology.probe(from: .podClient, Probe(.tcp, W.loadBalancerIP, W.servicePort)) == [.refused])
    }

    /// Hairpin masquerade matches only connections a Service redirected: a pod's direct connection
    /// to an endpoint, and its connection through the ClusterIP, both keep the pod's source.
    @Test func onlyServiceRedirectedConnectionsAreHairpinned() throws {
        let topology = try Topology(pods: 1)
        defer { topology.teardown() }
        _ = try backend(topology).sync(W.snapshot([(W.service(), W.endpoints([1]))]), changes: nil)
        let pod = Topology.podAddress(1)
        #expect(try topology.probe(from: .podClient, Probe(.tcp, pod, Topology.backendPort)) == [.answered(server: pod, peer: Topology.podClientAddress)])
        #expect(try topology.probe(from: .podClient, Probe(.tcp, W.clusterIP, W.servicePort)) == [.answered(server: pod, peer: Topology.podClientAddress)])
        let hairpin = try Shell.run(topology.nodeCommandPrefix + ["nft", "list", "chain", "ip", "swift-kube-proxy", "nat-postrouting"])
        #expect(hairpin.contains("ct status dnat ip saddr . ip daddr @hairpin-endpoints"))
    }

    /// With `serviceCIDRs` (`--service-cluster-ip-range`), an address of the range that no
    /// Service holds is dropped (upstream's "Drop traffic to unallocated ClusterIPs"); an unserved
    /// port of a real ClusterIP is still refused.
    @Test func anUnallocatedClusterIPIsDropped() throws {
        let topology = try Topology(pods: 1)
        defer { topology.teardown() }
        var config = RuleSyncConfig(clusterCIDRs: [Topology.clusterCIDR])
        config.serviceCIDRs = [CIDR("172.30.0.0/16")!]
        let backend = try NFTablesBackend(config: config, families: [.ipv4], networkNamespace: "/run/netns/\(topology.node)")
        _ = try backend.sync(W.snapshot([(W.service(), W.endpoints([1]))]), changes: nil)
        #expect(try topology.probe(from: .podClient, Probe(.tcp, IPAddress("172.30.0.99")!, W.servicePort, timeoutSeconds: 1)) == [.timeout])
        #expect(try topology.probe(from: .podClient, Probe(.tcp, W.clusterIP, W.servicePort + 1)) == [.refused])
        #expect(try topology.probe(from: .podClient, Probe(.tcp, W.clusterIP, W.servicePort)) == [.answered(server: Topology.podAddress(1), peer: Topology.podClientAddress)])
    }
}
