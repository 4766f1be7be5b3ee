import DataplaneScenarios
import EndToEndSupport
import Foundation
import ProxyModel
import Testing

/// The real binary in `mode: nftables` with `nodePortAddresses` unset, in a test topology's node
/// namespace and on the file source (no Node object): it finds the node's primary address from the
/// default route (via 192.168.50.2 on the uplink, so 192.168.50.1), says so at start, and serves
/// NodePorts there and not on the node's second address.
@Suite(.serialized, .enabled(if: Shell.canRunNamespaces, "needs root and iproute2"))
struct PrimaryNodePortEndToEndTests {
    static let nodePort: UInt16 = 30080
    static let config = """
        mode: nftables
        source: file
        manifests: services.yaml
        clusterCIDR: ["\(Topology.clusterCIDR)"]
        minSyncPeriod: 50ms
        """

    @Test func nftablesServesNodePortsOnTheDefaultRoutesAddressOnly() async throws {
        let topology = try Topology(pods: 1)
        defer { topology.teardown() }
        let manifests = Manifests.service("web", nodePort: Self.nodePort)
            + Manifests.slice("web-1", service: "web", backendPort: Topology.backendPort, addresses: ["\(Topology.podAddress(1))"])
        let proxy = try ProxyProcess(config: Self.config, manifests: manifests, prefix: topology.nodeCommandPrefix)
        defer { proxy.stop() }

        let primary = Probe(.tcp, Topology.nodeAddress, Int(Self.nodePort), timeoutSeconds: 2)
        let answered = await poll(tries: 500, { (try? topology.probe(from: .externalClient, primary)) ?? [] },
                                  until: { $0.first?.isAnswered == true })
        #expect(answered.first?.isAnswered == true, "\(proxy.stderr)")
        let second = try topology.probe(from: .externalClient, Probe(.tcp, Topology.nodeSecondAddress, Int(Self.nodePort), timeoutSeconds: 2))
        #expect(second == [.refused], "\(second)")
        #expect(proxy.stderr.contains("NodePorts are served on primary (nftables mode's default): IPv4: \(Topology.nodeAddress)/32"),
                "\(proxy.stderr)")
    }
}

extension ProbeResult {
    var isAnswered: Bool { if case .answered = self { true } else { false } }
}
