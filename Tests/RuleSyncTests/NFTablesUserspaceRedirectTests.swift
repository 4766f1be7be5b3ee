import DataplaneScenarios
import Foundation
import NFTables
import ProxyModel
import Testing
@testable import RuleSync

@Suite struct NFTablesUserspaceRedirectRenderingTests {
    typealias F = Fixture

    @Test func clusterIPsAndExternalIPsOfListenedServicePortsAreRedirected() {
        let web = F.name("ns1", "web"), other = F.name("ns1", "other")
        let snapshot = F.snapshot([(F.service(web, "172.30.0.41", externalIPs: ["192.0.2.10"]), []), (F.service(other, "172.30.0.42"), [])])
        let redirects = UserspaceRedirect.redirects(for: snapshot, listenerPorts: [web: 31000])
        #expect(redirects.map { "\($0.address):\($0.port)->\($0.listenerPort)" } == ["172.30.0.41:80->31000", "192.0.2.10:80->31000"])
        let commands = NFTablesUserspaceRedirects.batch(redirects, family: .ipv4).commands.map(\.description)
        #expect(commands.contains("add rule ip swift-kube-proxy-userspace nat-output meta l4proto 0x06 redirect to :ip daddr . meta l4proto . th dport map @redirects"))
        #expect(commands.contains("add element ip swift-kube-proxy-userspace redirects { 2 elements }"))
        // Both redirects lead to one portal; only redirected traffic may reach it.
        #expect(commands.contains("add element ip swift-kube-proxy-userspace portals { 1 element }"))
        #expect(commands.contains { $0.hasPrefix("add rule ip swift-kube-proxy-userspace filter-input meta l4proto . th dport @portals") })
        #expect(!NFTablesUserspaceRedirects.batch(redirects, family: .ipv6).commands.contains { $0.description.contains("add element") })
    }

    @Test func clusterIPsAndExternalIPsCanHaveListenersOfTheirOwn() {
        let web = F.name("ns1", "web")
        let snapshot = F.snapshot([(F.service(web, "172.30.0.41", externalIPs: ["192.0.2.10"]), [])])
        let redirects = UserspaceRedirect.redirects(for: snapshot, clusterIPListeners: [web: 31000], externalIPListeners: [web: 31001])
        #expect(redirects.map { "\($0.address):\($0.port)->\($0.listenerPort)" } == ["172.30.0.41:80->31000", "192.0.2.10:80->31001"])
    }

    /// Two Services claiming one ExternalIP and port would put one key in the map twice and fail
    /// the whole transaction: the first by name gets it (and a ClusterIP before any ExternalIP).
    @Test func anAddressClaimedTwiceIsRedirectedOnce() {
        let a = F.name("ns1", "a"), b = F.name("ns1", "b")
        let snapshot = F.snapshot([(F.service(a, "172.30.0.1", externalIPs: ["192.0.2.1"]), []),
                                   (F.service(b, "172.30.0.2", externalIPs: ["192.0.2.1", "172.30.0.1"]), [])])
        let redirects = UserspaceRedirect.redirects(for: snapshot, clusterIPListeners: [a: 31000, b: 31001], externalIPListeners: [b: 31003, a: 31002])
        #expect(redirects.map { "\($0.address):\($0.port)->\($0.listenerPort)" } == ["172.30.0.1:80->31000", "172.30.0.2:80->31001", "192.0.2.1:80->31002"])
        #expect(NFTablesUserspaceRedirects.batch(redirects, family: .ipv4).commands.map(\.description)
            .contains("add element ip swift-kube-proxy-userspace redirects { 3 elements }"))
    }
}

/// The redirects in a real node namespace: a pod and the node itself reach a listener on the node
/// through a ClusterIP, and cleanup leaves other tables alone.
@Suite(.serialized, .enabled(if: Shell.canRunNamespaces, "needs root, ip netns and python3"))
struct NFTablesUserspaceRedirectKernelTests {
    static let listener = """
    import socket, sys
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
    print("ready", flush=True)
    while True:
        c, peer = s.accept(); c.sendall(("listener %s\\n" % peer[0]).encode()); c.close()
    """
    static let client = """
    import socket, sys
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    print(s.recv(100).decode().strip())
    """

    @Test func clusterIPTrafficReachesTheLocalListener() throws {
        let topology = try Topology(pods: 1)
        defer { topology.teardown() }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["ip", "netns", "exec", topology.node, "python3", "-u", "-c", Self.listener, "31000"]
        let out = Pipe()
        server.standardOutput = out
        try server.run()
        defer { server.terminate(); kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("ready") {
            let chunk = out.fileHandleForReading.availableData
            guard !chunk.isEmpty else { Issue.record("listener exited"); return }
            seen += chunk
        }

        try Shell.run(topology.nodeCommandPrefix + ["nft", "add table ip foreign; add chain ip foreign c { type nat hook output priority 0; }"])
        let redirector = try NFTablesUserspaceRedirector(families: [.ipv4], networkNamespace: "/run/netns/\(topology.node)")
        let name = ScenarioWorld.name
        let snapshot = ScenarioWorld.snapshot([(ScenarioWorld.service(externalIPs: [ScenarioWorld.externalIP]), [])])
        let bytes = try redirector.apply(UserspaceRedirect.redirects(for: snapshot, listenerPorts: [name: 31000]))
        #expect(bytes > 0)
        // Applying again replaces, it does not add.
        try redirector.apply(UserspaceRedirect.redirects(for: snapshot, listenerPorts: [name: 31000]))

        let fromPod = try Shell.run(["ip", "netns", "exec", topology.podClient, "python3", "-c", Self.client, "172.30.0.10", "80"])
        #expect(fromPod.hasPrefix("listener 10.180.100.2"))
        let fromNode = try Shell.run(topology.nodeCommandPrefix + ["python3", "-c", Self.client, "172.30.0.10", "80"])
        #expect(fromNode.hasPrefix("listener 192.168.50.1"))  // the node's own source, to 127.0.0.1
        let external = try Shell.run(["ip", "netns", "exec", topology.client, "python3", "-c", Self.client, "192.168.60.10", "80"])
        #expect(external.hasPrefix("listener 192.168.50.2"))
        let listing = try Shell.run(topology.nodeCommandPrefix + ["nft", "list", "table", "ip", "swift-kube-proxy-userspace"])
        #expect(listing.components(separatedBy: "redirect to").count == 5)

        try redirector.cleanup()
        let tables = try Shell.run(topology.nodeCommandPrefix + ["nft", "list", "tables"])
        #expect(!tables.contains("swift-kube-proxy-userspace"))
        #expect(tables.contains("table ip foreign"))
    }
}
