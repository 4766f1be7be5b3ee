import DataplaneScenarios
import EndToEndSupport
import Foundation
import ProxyModel
import Testing

/// The real binary in `mode: iptables` and `mode: nftables`, run inside the node namespace of a test topology: a
/// ClusterIP reaches both pods, an endpoint removed from the manifests stops receiving, and the
/// rules stay in place when the program exits (as kube-proxy's do).
@Suite(.serialized, .enabled(if: Shell.canRunNamespaces, "needs root and iproute2"))
struct RuleBackendEndToEndTests {
    static func manifests(pods: [Int]) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: default}
        spec:
          clusterIP: 172.30.0.41
          ports: [{name: http, port: 80, targetPort: \(Topology.backendPort)}]
        ---

        """ + Manifests.slice("web-1", service: "web", backendPort: Topology.backendPort, addresses: pods.map { "\(Topology.podAddress($0))" })
    }

    /// A rule mode on the file source, syncing quickly.
    static func config(_ mode: String) -> String {
        """
        mode: \(mode)
        source: file
        manifests: services.yaml
        clusterCIDR: ["\(Topology.clusterCIDR)"]
        minSyncPeriod: 50ms
        """
    }

    @Test(arguments: ["iptables", "nftables"])
    func ruleModeForwardsClusterIPTrafficAndFollowsEdits(mode: String) async throws {
        let topology = try Topology(pods: 2)
        defer { topology.teardown() }
        let proxy = try ProxyProcess(config: Self.config(mode), manifests: Self.manifests(pods: [1, 2]), prefix: topology.nodeCommandPrefix)
        defer { proxy.stop() }

        let probe = Probe(.tcp, IPAddress("172.30.0.41")!, 80, count: 6, timeoutSeconds: 2)
        func servers() -> Set<IPAddress> {
            let results = (try? topology.probe(from: .podClient, probe)) ?? []
            return Set(results.compactMap { if case .answered(let server, _) = $0 { server } else { nil } })
        }
        let both: Set = [Topology.podAddress(1), Topology.podAddress(2)]
        #expect(await poll(tries: 500, { servers() }, until: { $0 == both }) == both)

        try proxy.writeManifests(Self.manifests(pods: [1]))
        let one: Set = [Topology.podAddress(1)]
        #expect(await poll(tries: 500, { servers() }, until: { $0 == one }) == one)

        #expect(proxy.stop() == 0)
        let rules = mode == "iptables"
            ? try Shell.run(topology.nodeCommandPrefix + ["iptables-save", "-t", "nat"])
            : try Shell.run(topology.nodeCommandPrefix + ["nft", "list", "table", "ip", "swift-kube-proxy"])
        #expect(rules.contains(mode == "iptables" ? "SKP-SERVICES" : "172.30.0.41 . tcp . 80"), "exit must leave the rules in place")
    }

    /// The shipped DaemonSet runs with `readOnlyRootFilesystem` and no `/tmp`: every mode must
    /// program the node without writing a file. Here the root is remounted read-only in a mount
    /// namespace of the program's own.
    @Test(arguments: ["iptables", "nftables"])
    func ruleModeProgramsTheNodeUnderAReadOnlyRoot(mode: String) async throws {
        let topology = try Topology(pods: 1)
        defer { topology.teardown() }
        let readOnlyRoot = ["unshare", "--mount", "--propagation", "private", "sh", "-c", "mount -o remount,bind,ro / && exec \"$@\"", "sh"]
        let proxy = try ProxyProcess(config: Self.config(mode), manifests: Self.manifests(pods: [1]), prefix: readOnlyRoot + topology.nodeCommandPrefix)
        defer { proxy.stop() }
        let probe = Probe(.tcp, IPAddress("172.30.0.41")!, 80, timeoutSeconds: 2)
        let answered = await poll(tries: 500, { (try? topology.probe(from: .podClient, probe)) ?? [] },
                                  until: { $0 == [.answered(server: Topology.podAddress(1), peer: Topology.podClientAddress)] })
        #expect(answered == [.answered(server: Topology.podAddress(1), peer: Topology.podClientAddress)], "\(proxy.stderr)")
        #expect(!proxy.stderr.contains("Read-only file system"), "\(proxy.stderr)")
    }

    /// A node switched from one rule mode to the other: once the new mode has synced, the old mode's
    /// rules are gone (they would DNAT to pods that no longer exist), and traffic flowed throughout.
    @Test(arguments: [("iptables", "nftables"), ("nftables", "iptables")])
    func switchingModesRemovesTheOldModesRules(from old: String, to new: String) async throws {
        let topology = try Topology(pods: 1)
        defer { topology.teardown() }
        func oursIn(_ mode: String) -> Bool {
            mode == "iptables"
                ? ((try? Shell.run(topology.nodeCommandPrefix + ["iptables-save", "-t", "nat"])) ?? "").contains("SKP-SERVICES")
                : ((try? Shell.run(topology.nodeCommandPrefix + ["nft", "list", "tables"])) ?? "").contains("table ip swift-kube-proxy")
        }
        let probe = Probe(.tcp, IPAddress("172.30.0.41")!, 80, timeoutSeconds: 2)
        let served: [ProbeResult] = [.answered(server: Topology.podAddress(1), peer: Topology.podClientAddress)]
        let first = try ProxyProcess(config: Self.config(old), manifests: Self.manifests(pods: [1]), prefix: topology.nodeCommandPrefix)
        #expect(await poll(tries: 500, { (try? topology.probe(from: .podClient, probe)) ?? [] }, until: { $0 == served }) == served)
        #expect(first.stop() == 0)
        #expect(oursIn(old), "exit leaves the rules in place")

        let second = try ProxyProcess(config: Self.config(new), manifests: Self.manifests(pods: [1]), prefix: topology.nodeCommandPrefix)
        defer { second.stop() }
        // The old mode's rules go once the new mode's first sync is in (a slow start only takes longer).
        #expect(await poll(tries: 1500, { (oursIn(old), oursIn(new)) }, until: { !$0.0 && $0.1 }) == (false, true), "\(second.stderr)")
        #expect(try topology.probe(from: .podClient, probe) == served)
    }

    /// A node namespace with IPv6 switched off: only the IPv4 table or chains are programmed, and
    /// syncs succeed (they would fail for the missing family).
    @Test(arguments: ["iptables", "nftables"])
    func aNodeWithoutIPv6GetsIPv4RulesOnly(mode: String) async throws {
        let topology = try Topology(pods: 1)
        defer { topology.teardown() }
        _ = try Shell.run(topology.nodeCommandPrefix + ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
        let proxy = try ProxyProcess(config: Self.config(mode), manifests: Self.manifests(pods: [1]), prefix: topology.nodeCommandPrefix)
        defer { proxy.stop() }
        let probe = Probe(.tcp, IPAddress("172.30.0.41")!, 80, timeoutSeconds: 2)
        let served: [ProbeResult] = [.answered(server: Topology.podAddress(1), peer: Topology.podClientAddress)]
        #expect(await poll(tries: 500, { (try? topology.probe(from: .podClient, probe)) ?? [] }, until: { $0 == served }) == served, "\(proxy.stderr)")
        if mode == "nftables" {
            let tables = try Shell.run(topology.nodeCommandPrefix + ["nft", "list", "tables"])
            #expect(tables.contains("table ip swift-kube-proxy") && !tables.contains("table ip6 swift-kube-proxy"), "\(tables)")
        } else {
            let v6 = (try? Shell.run(topology.nodeCommandPrefix + ["ip6tables-save", "-t", "nat"])) ?? ""
            #expect(!v6.contains("SKP-"), "\(v6)")
        }
        #expect(proxy.stderr.contains("programming IPv4 only"), "\(proxy.stderr)")
        #expect(!proxy.stderr.contains("sync failed"), "\(proxy.stderr)")
    }
}
