import DataplaneScenarios
import Foundation
import NFTables
import ProxyModel
import Testing
@testable import RuleSync

/// ClientIP affinity of the flat ruleset in a real kernel: no chain per Service or endpoint, the
/// timed map holds what the packets chose, a full sync keeps it, and `nft` lists it.
extension NFTablesFlatKernelTests {
    func nft(_ topology: Topology, _ args: String...) throws -> String {
        try Shell.run(topology.nodeCommandPrefix + ["nft"] + args)
    }

    func answered(_ results: [ProbeResult]) -> [IPAddress] {
        results.compactMap { if case .answered(let server, _) = $0 { server } else { nil } }
    }

    @Test func theTimedMapHoldsTheChoiceAndAFullSyncKeepsIt() throws {
        let topology = try Topology(pods: 2)
        defer { topology.teardown() }
        let snapshot = W.snapshot([(W.service(nodePort: W.nodePort, affinity: .clientIP(timeoutSeconds: 300)), W.endpoints([1, 2]))])
        _ = try backend(topology).sync(snapshot, changes: nil)
        let chains = try nft(topology, "list", "chains", "ip")
        // Per-Service chains were named `service-HASH-ns/name/proto/port`, `endpoint-…__address/port`.
        #expect(!chains.contains("scenario") && !chains.contains("/"))
        #expect(chains.contains("chain affinity-pick-2-300") && chains.contains("chain nodeport-affinity-pick-2-300"))

        // Round-robin: the node takes slot 0 (pod 1), then the pod client slot 1 (pod 2) and keeps it.
        #expect(answered(try topology.probe(from: .node, Probe(.tcp, W.clusterIP, W.servicePort))) == [Topology.podAddress(1)])
        #expect(answered(try topology.probe(from: .podClient, Probe(.tcp, W.clusterIP, W.servicePort, count: 3))) == Array(repeating: Topology.podAddress(2), count: 3))
        let map = try nft(topology, "list", "map", "ip", NFTablesNames.tableName, "affinity-300")
        #expect(map.contains("\(Topology.podClientAddress) . \(W.clusterIP) . tcp . 80"))
        #expect(map.contains(": \(Topology.podAddress(2)) . \(Topology.backendPort)"))

        // A restarted process's full sync: a fresh round-robin counter would start at pod 1 again,
        // the kept map sends the client back to pod 2.
        _ = try backend(topology).sync(snapshot, changes: nil)
        #expect(answered(try topology.probe(from: .podClient, Probe(.tcp, W.clusterIP, W.servicePort, count: 2))) == Array(repeating: Topology.podAddress(2), count: 2))

        // A removed endpoint's entry is replaced on the client's next connection.
        let onlyOne = W.snapshot([(W.service(nodePort: W.nodePort, affinity: .clientIP(timeoutSeconds: 300)), W.endpoints([1]))])
        let b = try backend(topology)
        _ = try b.sync(snapshot, changes: nil)
        _ = try b.sync(onlyOne, changes: SnapshotDiff(from: snapshot, to: onlyOne))
        #expect(answered(try topology.probe(from: .podClient, Probe(.tcp, W.clusterIP, W.servicePort))) == [Topology.podAddress(1)])
        let after = try nft(topology, "list", "map", "ip", NFTablesNames.tableName, "affinity-300")
        #expect(!after.contains(": \(Topology.podAddress(2)) . \(Topology.backendPort)"))

        // `nft` lists and prints the whole ruleset, as text and JSON.
        #expect(try nft(topology, "list", "ruleset").contains("chain affinity-pick-1-300"))
        let json = try nft(topology, "-j", "list", "ruleset")
        #expect((try? JSONSerialization.jsonObject(with: Data(json.utf8))) != nil)
    }
}
