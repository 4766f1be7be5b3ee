import NFTables
import ProxyModel
import Synchronization
import Testing
@testable import RuleSync

/// Which affinity entries a sync deletes, and that only a sync removing something reads the maps.
@Suite struct NFTablesStaleAffinityTests {
    typealias F = Fixture

    /// Records batches and dumps; a dump returns the entries given for that map.
    final class DumpingTransport: NFTablesTransport {
        struct State {
            var batches: [NFTBatch] = []
            var dumps: [String] = []
            var entries: [String: [NFTSetElement]] = [:]
            /// As a kernel before 6.3: `NFT_MSG_DESTROYSETELEM` is refused.
            var refusesDestroy = false
        }

        let state = Mutex(State())

        func apply(_ batch: NFTBatch) throws -> Int {
            try state.withLock { s in
                if s.refusesDestroy, let index = batch.commands.firstIndex(where: { if case .destroyElements = $0 { true } else { false } }) {
                    throw NFTError.commandFailed(index: index, command: batch.commands[index].description, errno: 22)
                }
                s.batches.append(batch)
                return 1
            }
        }
        func contents(of table: NFTTable) throws -> NFTTableContents? { nil }
        func deleteTableIfPresent(_ table: NFTTable) throws -> Bool { false }
        func elements(of set: NFTSet) throws -> [NFTSetElement]? {
            state.withLock { s in
                s.dumps.append(set.name)
                return s.entries[set.name] ?? []
            }
        }
    }

    let web = F.name("ns1", "web")
    let db = F.name("ns1", "db")

    func snapshot(_ web: [String], db: [String] = ["10.180.1.1"]) -> ProxySnapshot {
        F.snapshot([(F.service(self.web, "172.30.0.41", affinity: .clientIP(timeoutSeconds: 100)), web.map { F.endpoint($0) }),
                    (F.service(self.db, "172.30.0.42"), db.map { F.endpoint($0) })])
    }

    /// `client . 172.30.0.41 . tcp . 80 : endpoint . 8080` in `affinity-100`.
    func entry(_ client: String, _ endpoint: String) -> NFTSetElement {
        NFTSetElement(key: .concat(NFTValue(ipv4: client)!, NFTValue(ipv4: "172.30.0.41")!, .proto(.tcp), .port(80)),
                      value: .data(.concat(NFTValue(ipv4: endpoint)!, .port(8080))))
    }

    @Test func onlyARemovalReadsTheMapAndOnlyItsEntriesGo() throws {
        let transport = DumpingTransport()
        let backend = NFTablesBackend(config: F.config, families: [.ipv4], transport: transport)
        transport.state.withLock { $0.entries["affinity-100"] = [entry("10.9.0.1", "10.180.0.1"), entry("10.9.0.2", "10.180.0.2")] }
        var last = snapshot(["10.180.0.1", "10.180.0.2"])
        _ = try backend.sync(last, changes: nil)
        // Adds, and a change to a Service without affinity: nothing read.
        for next in [snapshot(["10.180.0.1", "10.180.0.2", "10.180.0.3"]), snapshot(["10.180.0.1", "10.180.0.2", "10.180.0.3"], db: [])] {
            _ = try backend.sync(next, changes: SnapshotDiff(from: last, to: next))
            last = next
        }
        #expect(transport.state.withLock { $0.dumps }.isEmpty)

        let removed = snapshot(["10.180.0.1", "10.180.0.3"], db: [])
        _ = try backend.sync(removed, changes: SnapshotDiff(from: last, to: removed))
        let (dumps, batches) = transport.state.withLock { ($0.dumps, $0.batches) }
        #expect(dumps == ["affinity-100"])
        // The probe for `destroy element` (an element that is not there), then the sync with the stale entry.
        #expect(batches.count == 5)
        let destroys = batches.last!.commands.compactMap { if case .destroyElements(let map, let elements) = $0 { (map.name, elements) } else { nil } }
        #expect(destroys.map(\.0) == ["affinity-100"])
        #expect(destroys.first?.1 == [entry("10.9.0.2", "10.180.0.2")])
    }

    @Test func aKernelWithoutDestroyElementIsAskedOnceAndSyncsGoOn() throws {
        let transport = DumpingTransport()
        let backend = NFTablesBackend(config: F.config, families: [.ipv4], transport: transport)
        transport.state.withLock {
            $0.entries["affinity-100"] = [entry("10.9.0.2", "10.180.0.2"), entry("10.9.0.3", "10.180.0.3")]
            $0.refusesDestroy = true
        }
        let steps = [snapshot(["10.180.0.1", "10.180.0.2", "10.180.0.3"]), snapshot(["10.180.0.1", "10.180.0.3"]), snapshot(["10.180.0.1"])]
        _ = try backend.sync(steps[0], changes: nil)
        for (last, next) in zip(steps, steps.dropFirst()) {
            let report = try backend.sync(next, changes: SnapshotDiff(from: last, to: next))
            #expect(!report.full)
        }
        // One refused probe, then no destroy and no further dump: the datapath check does it.
        let (dumps, batches) = transport.state.withLock { ($0.dumps, $0.batches) }
        #expect(dumps == ["affinity-100"])
        #expect(batches.count == 3)
        #expect(!batches.contains { $0.commands.contains { if case .destroyElements = $0 { true } else { false } } })
    }

    /// The rules of `web` with affinity (timeout 100) on `clusterIP` and `endpoints`.
    func affinityRules(_ renderer: NFTablesRenderer, _ clusterIP: String, _ endpoints: [String]) throws -> NFTablesServiceRules {
        let plan = try #require(ServiceForwardingPlan(service: F.service(web, clusterIP, affinity: .clientIP(timeoutSeconds: 100)),
                                                      endpoints: endpoints.map { F.endpoint($0) }, node: F.node, config: F.config,
                                                      family: renderer.family))
        return renderer.serviceRules(plan)
    }

    @Test func anEntryIsStaleWhenItsFrontendOrItsEndpointIsGone() throws {
        let renderer = NFTablesRenderer(config: F.config, family: .ipv4)
        func rules(_ endpoints: [String]) throws -> NFTablesServiceRules { try affinityRules(renderer, "172.30.0.41", endpoints) }
        let map = NFTablesRenderer.affinityMap(nodePort: false, seconds: 100, in: renderer.table)
        let entries = [entry("10.9.0.1", "10.180.0.1"), entry("10.9.0.2", "10.180.0.2")]
        let before = try rules(["10.180.0.1", "10.180.0.2"])
        let oneLeft = NFTablesStaleAffinity(names: [web], before: { _ in before }, after: { _ in try? rules(["10.180.0.1"]) })
        #expect(oneLeft.stale(entries, of: map) == [entries[1]])
        let gone = NFTablesStaleAffinity(names: [web], before: { _ in before }, after: { _ in nil })
        #expect(gone.stale(entries, of: map) == entries)
        let same = NFTablesStaleAffinity(names: [web], before: { _ in before }, after: { _ in before })
        #expect(same.isEmpty)
        let adopting = NFTablesStaleAffinity(adopting: [map.name], services: [try rules(["10.180.0.2"])])
        #expect(adopting.stale(entries, of: map) == [entries[0]])
    }

    @Test func ipv6EntriesAreReadWithTheirLongerClientAndEndpoint() throws {
        let renderer = NFTablesRenderer(config: F.config, family: .ipv6)
        func rules(_ endpoints: [String]) throws -> NFTablesServiceRules { try affinityRules(renderer, "fd00::41", endpoints) }
        func entry(_ client: String, _ endpoint: String) -> NFTSetElement {
            NFTSetElement(key: .concat(NFTValue(ipv6: client)!, NFTValue(ipv6: "fd00::41")!, .proto(.tcp), .port(80)),
                          value: .data(.concat(NFTValue(ipv6: endpoint)!, .port(8080))))
        }
        let map = NFTablesRenderer.affinityMap(nodePort: false, seconds: 100, in: renderer.table)
        let entries = [entry("fd09::1", "fd01::1"), entry("fd09::2", "fd01::2")]
        let before = try rules(["fd01::1", "fd01::2"])
        let stale = NFTablesStaleAffinity(names: [web], before: { _ in before }, after: { _ in try? rules(["fd01::2"]) })
        #expect(stale.stale(entries, of: map) == [entries[0]])
    }

    @Test func aDumpMessageParses() {
        func attribute(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
            let length = UInt16(4 + payload.count)
            let padded = payload + Array(repeating: 0, count: (4 - payload.count % 4) % 4)
            return [UInt8(length & 0xff), UInt8(length >> 8), UInt8(type & 0xff), UInt8(type >> 8)] + padded
        }
        let nested: UInt16 = 0x8000
        let key: [UInt8] = [10, 9, 0, 1, 172, 30, 0, 41, 6, 0, 0, 0, 0, 80, 0, 0], data: [UInt8] = [10, 180, 0, 2, 0x1f, 0x90, 0, 0]
        let element = attribute(1 | nested, attribute(1 | nested, attribute(1, key)) + attribute(2 | nested, attribute(1, data))
                                    + attribute(5, [0, 0, 0, 0, 0, 0, 0x27, 0x10]))  // an expiration, skipped
        let body = [2, 0, 0, 0] + attribute(1, Array("swift-kube-proxy".utf8) + [0]) + attribute(2, Array("affinity-100".utf8) + [0])
            + attribute(3 | nested, element + element)
        let length = UInt32(16 + body.count)
        let header: [UInt8] = withUnsafeBytes(of: length) { Array($0) } + [13, 10, 2, 0] + Array(repeating: 0, count: 8)
        let parsed = NFTSetElementDump.elements(inMessage: header + body)
        #expect(parsed == Array(repeating: NFTSetElement(key: NFTValue(bytes: key), value: .data(NFTValue(bytes: data))), count: 2))
        // A truncated list is not read (and does not crash the reader).
        #expect(NFTSetElementDump.elements(inMessage: Array((header + body).dropLast(9))).isEmpty)
    }
}
