import DataplaneScenarios
import NFTables
import ProxyModel
import Testing
@testable import RuleSync

/// A removed endpoint's affinity entries leave the timed maps in the sync that removes it (read
/// with a `GETSETELEM` dump, deleted with `destroy element` in the same transaction).
extension NFTablesFlatKernelTests {
    func entries(_ topology: Topology, _ map: String) throws -> [String] {
        try nft(topology, "list", "map", "ip", NFTablesNames.tableName, map)
            .split(separator: ",").filter { $0.contains("10.9.0.") }.map { String($0) }
    }

    @Test func aRemovedEndpointsEntriesGoInTheSyncThatRemovesIt() throws {
        let topology = try Topology(pods: 3)
        defer { topology.teardown() }
        let service = W.service(nodePort: W.nodePort, affinity: .clientIP(timeoutSeconds: 300))
        let all = W.snapshot([(service, W.endpoints([1, 2, 3]))])
        let b = try backend(topology)
        _ = try b.sync(all, changes: nil)
        // Clients 10.9.0.1-3 on pods 1-3 through the ClusterIP, client 10.9.0.4 on pod 2 through the NodePort.
        let ip = NFTablesNames.tableName
        for i in 1...3 {
            _ = try nft(topology, "add", "element", "ip", ip, "affinity-300",
                        "{ 10.9.0.\(i) . \(W.clusterIP) . tcp . \(W.servicePort) : \(Topology.podAddress(i)) . \(Topology.backendPort) }")
        }
        _ = try nft(topology, "add", "element", "ip", ip, "nodeport-affinity-300",
                    "{ 10.9.0.4 . tcp . \(W.nodePort) : \(Topology.podAddress(2)) . \(Topology.backendPort) }")
        // Our own dump reads what nft wrote.
        let connection = try NFTConnection(networkNamespace: "/run/netns/\(topology.node)")
        let map = NFTablesRenderer.affinityMap(nodePort: false, seconds: 300, in: NFTablesNames.table(.ipv4))
        let dumped = try #require(try connection.elements(of: map))
        #expect(dumped.count == 3)
        #expect(dumped.contains { $0.value == .data(.concat(NFTValue(ipv4: "\(Topology.podAddress(2))")!, .port(UInt16(Topology.backendPort)))) })
        #expect(try connection.elements(of: NFTablesRenderer.affinityMap(nodePort: false, seconds: 77, in: map.table)) == nil)

        // Pod 2 removed by an incremental sync: its entries are gone at once, the others stay.
        let without2 = W.snapshot([(service, W.endpoints([1, 3]))])
        let report = try b.sync(without2, changes: SnapshotDiff(from: all, to: without2))
        #expect(!report.full)
        let left = try entries(topology, "affinity-300")
        #expect(left.count == 2)
        #expect(!left.contains { $0.contains(": \(Topology.podAddress(2)) ") })
        #expect(left.contains { $0.contains("10.9.0.1 ") } && left.contains { $0.contains("10.9.0.3 ") })
        #expect(try entries(topology, "nodeport-affinity-300").isEmpty)

        // A full sync (a restarted process adopting the table) drops entries of endpoints that are
        // gone too, here one made by hand for pod 3 after its removal.
        let only1 = W.snapshot([(service, W.endpoints([1]))])
        _ = try nft(topology, "add", "element", "ip", ip, "affinity-300",
                    "{ 10.9.0.5 . \(W.clusterIP) . tcp . \(W.servicePort) : \(Topology.podAddress(2)) . \(Topology.backendPort) }")
        let adopting = try backend(topology)
        _ = try adopting.sync(only1, changes: nil)
        #expect(try entries(topology, "affinity-300").map { $0.contains("10.9.0.1 ") } == [true])

        // The Service gone: every entry of its frontends goes.
        let none = W.snapshot([])
        _ = try adopting.sync(none, changes: SnapshotDiff(from: only1, to: none))
        #expect(try entries(topology, "affinity-300").isEmpty)
    }
}
