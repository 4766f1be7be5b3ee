import DataplaneScenarios
import EndToEndSupport
import Foundation
import Glibc
import ProxyModel
import Testing

/// The real binary in `mode: userspace` inside the node namespace of a test topology: with
/// CAP_NET_ADMIN, ClusterIP and ExternalIP traffic is redirected to its portals and reaches the
/// pods round-robin, over TCP and UDP, from a pod, another host and the node itself; without it,
/// NodePorts only. The redirect table goes on a clean exit, and `--cleanup` removes what a killed
/// run left.
@Suite(.serialized, .enabled(if: Shell.canRunNamespaces, "needs root, ip netns and python3"))
struct UserspaceRedirectEndToEndTests {
    static let web = IPAddress("172.30.0.41")!
    static let dns = IPAddress("172.30.0.53")!
    static let externalIP = IPAddress("192.168.60.10")!
    static let nodePort = 30080

    static func manifests(web withWeb: Bool = true) -> String {
        let pods = [1, 2].map { "\(Topology.podAddress($0))" }
        let web = """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: default}
        spec:
          type: NodePort
          clusterIP: \(Self.web)
          externalIPs: ["\(externalIP)"]
          ports: [{name: http, port: 80, targetPort: \(Topology.backendPort), nodePort: \(nodePort)}]
        ---

        """ + Manifests.slice("web-1", service: "web", backendPort: Topology.backendPort, addresses: pods)
        let dns = """
        apiVersion: v1
        kind: Service
        metadata: {name: dns, namespace: default}
        spec:
          clusterIP: \(Self.dns)
          ports: [{name: dns, port: 53, protocol: UDP, targetPort: \(Topology.backendPort)}]
        ---

        """ + Manifests.slice("dns-1", service: "dns", backendPort: Topology.backendPort, addresses: pods, portName: "dns", protocol: "UDP")
        return (withWeb ? web : "") + dns
    }

    static let config = """
    mode: userspace
    source: file
    manifests: services.yaml
    nodePortAddresses: ["\(Topology.nodeAddress)"]
    minSyncPeriod: 50ms
    userspace:
      eventLoops: 2
      proxyPortRange: 41000-41999
    """

    /// Probes until `expectation` holds (the first sync may not have run yet); nil when it did.
    static func eventually(_ topology: Topology, _ source: ProbeSource, _ probe: Probe, _ expectation: DataplaneScenarios.Expectation) async -> String? {
        await poll(tries: 20, {
            do { return expectation.check(try topology.probe(from: source, probe), from: source) } catch { return "\(error)" }
        }, until: { $0 == nil })
    }

    static func userspaceTable(_ topology: Topology) -> String {
        (try? Shell.run(topology.nodeCommandPrefix + ["nft", "list", "table", "ip", "swift-kube-proxy-userspace"])) ?? ""
    }

    @Test func clusterIPsAndExternalIPsReachThePodsThroughPortals() async throws {
        let topology = try Topology(pods: 2)
        defer { topology.teardown() }
        let proxy = try ProxyProcess(config: Self.config, manifests: Self.manifests(), prefix: topology.nodeCommandPrefix)
        defer { proxy.kill() }
        // Listeners open before redirects lead to them: once the table holds both, every path is up.
        let installed = await poll({ Self.userspaceTable(topology) }, until: { $0.contains("\(Self.web) . tcp . 80") && $0.contains("\(Self.dns) . udp . 53") })
        #expect(installed.contains("\(Self.web) . tcp . 80"), "\(proxy.stderr)")

        let roundRobin = DataplaneScenarios.Expectation.reaches([1, 2], evenly: true)
        for source in [ProbeSource.podClient, .node] {
            let tcp = await Self.eventually(topology, source, Probe(.tcp, Self.web, 80, count: 4, timeoutSeconds: 2), roundRobin)
            #expect(tcp == nil, "TCP \(source) -> ClusterIP: \(tcp ?? "") \(proxy.stderr)")
            // A new socket per attempt, so a new flow each time; the replies must come back as the ClusterIP's.
            let udp = await Self.eventually(topology, source, Probe(.udp, Self.dns, 53, count: 4, timeoutSeconds: 2), roundRobin)
            #expect(udp == nil, "UDP \(source) -> ClusterIP: \(udp ?? "")")
        }
        let external = await Self.eventually(topology, .externalClient, Probe(.tcp, Self.externalIP, 80, count: 4, timeoutSeconds: 2), roundRobin)
        #expect(external == nil, "TCP from another host -> ExternalIP: \(external ?? "")")
        let nodePort = await Self.eventually(topology, .externalClient, Probe(.tcp, Topology.nodeAddress, Self.nodePort, count: 2),
                                             .reaches([1, 2], evenly: true))
        #expect(nodePort == nil, "NodePort: \(nodePort ?? "")")

        /// The listener port a redirect (`ADDRESS . PROTO . PORT`) leads to.
        func portal(_ redirect: String, in table: String) -> Int? {
            guard let element = table.range(of: redirect) else { return nil }
            let rest = table[element.upperBound...].prefix { $0 != "," && $0 != "}" }
            return rest.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        }
        func dnsPortal(_ table: String) -> Int? { portal("\(Self.dns) . udp . 53", in: table) }
        let before = Self.userspaceTable(topology)
        #expect(before.contains("\(Self.externalIP) . tcp . 80"))
        let dnsBefore = try #require(dnsPortal(before))

        // A portal takes only redirected traffic: straight to NODE_IP:portal from another host or
        // a pod gets nothing (it would expose a ClusterIP-only Service off the node); the node's own
        // connection to the portal still works.
        let webPortal = try #require(portal("\(Self.web) . tcp . 80", in: before))
        for source in [ProbeSource.externalClient, .podClient] {
            let direct = try topology.probe(from: source, Probe(.tcp, Topology.nodeAddress, webPortal, timeoutSeconds: 1))
            #expect(direct == [.timeout], "TCP \(source) -> portal \(webPortal): \(direct)")
            let udp = try topology.probe(from: source, Probe(.udp, Topology.nodeAddress, dnsBefore, timeoutSeconds: 1))
            #expect(udp == [.timeout], "UDP \(source) -> portal \(dnsBefore): \(udp)")
        }
        let own = try topology.probe(from: .node, Probe(.tcp, Topology.nodeAddress, webPortal))
        #expect(own.allSatisfy { if case .answered = $0 { true } else { false } }, "node -> its own portal: \(own)")

        // web goes: its redirects go with it, and dns keeps its portal port.
        try proxy.writeManifests(Self.manifests(web: false))
        let after = await poll({ Self.userspaceTable(topology) }, until: { !$0.contains("\(Self.web)") && $0.contains("\(Self.dns)") })
        #expect(!after.contains("\(Self.web)") && !after.contains("\(Self.externalIP)"), "\(after)")
        #expect(dnsPortal(after) == dnsBefore)
        #expect(await Self.eventually(topology, .podClient, Probe(.tcp, Self.web, 80, timeoutSeconds: 1), .unanswered) == nil)
        #expect(await Self.eventually(topology, .podClient, Probe(.udp, Self.dns, 53), .reaches([1, 2])) == nil)

        // A clean exit deletes the table: nothing listens at the portals any more.
        #expect(proxy.stop() == 0)
        let tables = try Shell.run(topology.nodeCommandPrefix + ["nft", "list", "tables"])
        #expect(!tables.contains("swift-kube-proxy-userspace"), "\(tables)")
        #expect(proxy.stderr.contains("nftables redirects removed"))
    }

    @Test func cleanupRemovesTheRedirectsAKilledRunLeft() async throws {
        let topology = try Topology(pods: 1)
        defer { topology.teardown() }
        try Shell.run(topology.nodeCommandPrefix + ["nft", "add table ip foreign; add chain ip foreign c { type nat hook output priority 0; }"])
        let proxy = try ProxyProcess(config: Self.config, manifests: Self.manifests(), prefix: topology.nodeCommandPrefix)
        defer { proxy.kill() }
        let table = await poll({ Self.userspaceTable(topology) }, until: { $0.contains("\(Self.dns) . udp . 53") })
        #expect(table.contains("\(Self.dns) . udp . 53"), "\(proxy.stderr)")

        proxy.kill()
        #expect(Self.userspaceTable(topology).contains("\(Self.dns) . udp . 53"), "a killed run cannot remove its redirects")
        let (status, output) = try runProgram(["timeout", "60"] + topology.nodeCommandPrefix + [ProxyProcess.binary, "--cleanup"])
        #expect(status == 0, "\(output)")
        let tables = try Shell.run(topology.nodeCommandPrefix + ["nft", "list", "tables"])
        #expect(!tables.contains("swift-kube-proxy-userspace"), "\(tables)")
        #expect(tables.contains("table ip foreign"), "\(tables)")
    }

    /// Without CAP_NET_ADMIN (dropped from the bounding set, so the root-run binary never has it),
    /// one warning, no table, and the NodePorts still serve.
    @Test func withoutNetAdminNodePortsStillServe() async throws {
        let topology = try Topology(pods: 2)
        defer { topology.teardown() }
        let proxy = try ProxyProcess(config: Self.config, manifests: Self.manifests(),
                                     prefix: topology.nodeCommandPrefix + ["setpriv", "--bounding-set=-net_admin"])
        defer { proxy.kill() }
        let nodePort = await Self.eventually(topology, .externalClient, Probe(.tcp, Topology.nodeAddress, Self.nodePort, count: 2),
                                             .reaches([1, 2], evenly: true))
        #expect(nodePort == nil, "NodePort: \(nodePort ?? "") \(proxy.stderr)")
        let warnings = proxy.stderr.split(separator: "\n").filter { $0.contains("no CAP_NET_ADMIN") }
        #expect(warnings.count == 1, "\(proxy.stderr)")
        let tables = try Shell.run(topology.nodeCommandPrefix + ["nft", "list", "tables"])
        #expect(!tables.contains("swift-kube-proxy-userspace"), "\(tables)")
        #expect(proxy.stop() == 0)
    }
}

