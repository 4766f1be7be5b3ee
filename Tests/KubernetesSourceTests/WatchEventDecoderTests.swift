import Foundation
import KubernetesAPI
@testable import KubernetesSource
import NIOCore
import Testing

@Suite struct WatchEventDecoderTests {
    let stream = Fixture.data("watch-events.jsonl")

    func names(_ events: [WatchEvent<ServiceObject>]) -> [String] {
        events.map {
            switch $0 {
            case .added(.object(let s)): return "ADDED \(s.metadata.name!) \(s.metadata.resourceVersion!)"
            case .modified(.object(let s)): return "MODIFIED \(s.metadata.name!) \(s.metadata.resourceVersion!)"
            case .deleted(.object(let s)): return "DELETED \(s.metadata.name!) \(s.metadata.resourceVersion!)"
            case .bookmark(let rv): return "BOOKMARK \(rv ?? "")"
            case .error(let status): return "ERROR \(status.code ?? 0) \(status.isGone)"
            default: return "UNDECODABLE"
            }
        }
    }

    let expected = ["ADDED api 5001", "BOOKMARK 5010", "MODIFIED api 5020", "DELETED api 5030", "ERROR 410 true"]

    @Test func aWholeStreamInOneChunkGivesEveryEventInOrder() throws {
        var decoder = WatchEventDecoder<ServiceObject>()
        #expect(names(try decoder.feed(ByteBuffer(data: stream))) == expected)
        #expect(!decoder.hasPartialLine)
    }

    @Test func eventsSplitAcrossChunksOfAnySizeComeOutWhole() throws {
        for size in [1, 7, 64, 333] {
            var decoder = WatchEventDecoder<ServiceObject>()
            var events: [WatchEvent<ServiceObject>] = []
            var offset = 0
            while offset < stream.count {
                let end = min(stream.count, offset + size)
                events += try decoder.feed(ByteBuffer(data: stream[offset..<end]))
                offset = end
            }
            #expect(names(events) == expected, "chunk size \(size)")
        }
    }

    @Test func aCutObjectIsHeldAsAPartialLine() throws {
        var decoder = WatchEventDecoder<ServiceObject>()
        let firstLine = stream.prefix { $0 != UInt8(ascii: "\n") }
        let events = try decoder.feed(ByteBuffer(data: firstLine.prefix(firstLine.count / 2)))
        #expect(events.isEmpty)
        #expect(decoder.hasPartialLine)
    }

    @Test func anObjectThatDoesNotDecodeIsReportedWithItsName() throws {
        var decoder = WatchEventDecoder<ServiceObject>()
        let line = #"{"type":"ADDED","object":{"kind":"Service","apiVersion":"v1","metadata":{"name":"bad","namespace":"shop"},"spec":{"ports":[{"port":"eighty"}]}}}"# + "\n"
        let events = try decoder.feed(ByteBuffer(string: line))
        guard case .added(.undecodable(let namespace, let name, let reason))? = events.first else {
            Issue.record("expected an undecodable ADDED, got \(events)")
            return
        }
        #expect(namespace == "shop" && name == "bad")
        #expect(reason.contains("spec.ports[0].port"))
    }

    @Test func aLineThatIsNotJSONIsAnError() {
        var decoder = WatchEventDecoder<ServiceObject>()
        #expect(throws: (any Error).self) { try decoder.feed(ByteBuffer(string: "<html>502 Bad Gateway</html>\n")) }
    }
}

@Suite struct BackoffTests {
    struct Fixed: RandomNumberGenerator {
        var value: UInt64
        mutating func next() -> UInt64 { value }
    }

    @Test func waitsDoubleUpToTheCap() {
        var backoff = Backoff(initial: .milliseconds(100), cap: .seconds(1), jitter: 0)
        var random = Fixed(value: 0)
        let waits = (0..<6).map { _ in backoff.next(using: &random) }
        #expect(waits == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        backoff.reset()
        #expect(backoff.next(using: &random) == .milliseconds(100))
    }

    @Test func jitterSpreadsEachWaitWithinItsFractionAndNeverPastTheCap() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var backoff = Backoff(initial: .milliseconds(100), cap: .milliseconds(300), jitter: 0.5)
            let first = backoff.next(using: &random)
            #expect(first >= .milliseconds(50) && first <= .milliseconds(100))
            _ = backoff.next(using: &random)
            #expect(backoff.next(using: &random) <= .milliseconds(300))
        }
    }

    /// Nodes that lost the API server together: at the cap their waits still differ, so they do
    /// not all come back in the same instant, and none waits longer than the cap.
    @Test func atTheCapWaitsStaySpread() {
        var random = SystemRandomNumberGenerator()
        let waits = (0..<1000).map { _ -> Duration in
            var backoff = Backoff()
            for _ in 0..<10 { _ = backoff.next(using: &random) }
            return backoff.next(using: &random)
        }
        #expect(waits.allSatisfy { $0 >= .milliseconds(2500) && $0 <= .seconds(5) })
        // Spread over the window: no 100 ms slot holds more than a tenth of the nodes.
        let slots = Dictionary(grouping: waits) { Int(($0 / .milliseconds(100)).rounded(.down)) }
        #expect(slots.values.map(\.count).max()! < 100)
    }
}
