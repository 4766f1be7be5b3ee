import NFTables
import ProxyModel
import Testing
@testable import RuleSync

/// Sizes of the flushed sets: made anew with a size at each full sync; an incremental sync that
/// would outgrow one is a full sync instead (the kernel would refuse the batch with ENFILE).
@Suite struct NFTablesSetSizeTests {
    typealias F = Fixture
    typealias N = NFTablesNames

    func services(_ count: Int) -> ProxySnapshot {
        F.snapshot((0..<count).map { i in
            (F.service(F.name("ns", "s\(i)"), "172.30.\(i / 250).\(i % 250 + 1)"), [F.endpoint("10.180.\(i / 250).\(i % 250 + 1)")])
        })
    }

    @Test func aSizeIsAQuarterMoreThanTheElementsAndFillsPowerOfTwoBuckets() {
        #expect(NFTablesSetSize.hint(elements: 0) == 768)
        #expect(NFTablesSetSize.hint(elements: 615) == 768)
        #expect(NFTablesSetSize.hint(elements: 616) == 1536)
        #expect(NFTablesSetSize.hint(elements: 1_000_000) == 1_572_864)
    }

    @Test func aFullSyncMakesTheFlushedSetsAnewWithASize() throws {
        let transport = RecordingTransport()
        let backend = NFTablesBackend(config: F.config, families: [.ipv4], transport: transport)
        _ = try backend.sync(services(10), changes: nil)
        // A periodic full sync: the applied model says which sets exist.
        _ = try backend.sync(services(700), changes: nil)
        let commands = transport.lastBatch
        let delete = try #require(commands.firstIndex(of: "delete map ip swift-kube-proxy service-endpoints"))
        let add = try #require(commands.firstIndex { $0.hasPrefix("add map ip swift-kube-proxy service-endpoints {") })
        let firstRule = try #require(commands.firstIndex { $0.hasPrefix("add rule") })
        #expect(delete < add && add < firstRule, "deleted before a rule refers to it again")
        #expect(commands[add].hasSuffix(" size 1536; }"), "\(commands[add])")
        #expect(!commands.contains("flush map ip swift-kube-proxy service-endpoints"))
        #expect(commands.contains { $0.hasPrefix("add set ip swift-kube-proxy masquerade-ips {") && $0.hasSuffix(" size 768; }") })
    }

    @Test func aSetNotKnownToExistIsAddedAndFlushed() throws {
        let transport = RecordingTransport()
        let backend = NFTablesBackend(config: F.config, families: [.ipv4], transport: transport)
        _ = try backend.sync(services(10), changes: nil)
        let commands = transport.lastBatch
        #expect(!commands.contains { $0.hasPrefix("delete") })
        #expect(commands.contains("flush map ip swift-kube-proxy service-endpoints"), "the unread table may hold it")
    }

    @Test func anIncrementalSyncThatWouldOutgrowASizeIsFull() throws {
        let transport = RecordingTransport()
        let backend = NFTablesBackend(config: F.config, families: [.ipv4], transport: transport)
        let few = services(10), many = services(1100), more = services(1101)
        _ = try backend.sync(few, changes: nil)
        let grown = try backend.sync(many, changes: SnapshotDiff(from: few, to: many))
        #expect(grown.full, "1100 elements do not fit in 768")
        #expect(transport.lastBatch.contains { $0.hasPrefix("add map ip swift-kube-proxy service-endpoints {") && $0.hasSuffix(" size 1536; }") })
        let within = try backend.sync(more, changes: SnapshotDiff(from: many, to: more))
        #expect(!within.full)
    }
}
