import Testing
@testable import NFTables

/// `NFTValue` holds short values inline and long ones in an array; `NFTSetElement` keeps a range's
/// end and a timeout in a shared box. Neither may show through: the same bytes are the same value
/// however they were built, and the element's fields read back as written.
struct ValueStorageTests {
    /// The concatenation as it was built before inline storage: each part zero-padded to 4 bytes.
    static func reference(_ parts: [[UInt8]]) -> [UInt8] {
        parts.flatMap { $0 + Array(repeating: 0, count: (4 - $0.count % 4) % 4) }
    }

    @Test func bytesRoundTripAtEveryLength() {
        for length in 0...64 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 1) }
            let value = NFTValue(bytes: bytes)
            #expect(value.bytes == bytes)
            #expect(value.count == length)
            #expect(value.withUnsafeBytes { Array($0) } == bytes)
        }
    }

    @Test func concatenationsMatchThePaddedBytes() {
        let address = NFTValue(ipv4: "172.30.0.41")!, v6 = NFTValue(ipv6: "fd00::1")!
        let cases: [([NFTValue], [[UInt8]])] = [
            ([address, .proto(.tcp), .port(80)], [[172, 30, 0, 41], [6], [0, 80]]),
            ([address, .proto(.udp), .port(53), .integer(7)], [[172, 30, 0, 41], [17], [0, 53], NFTValue.integer(7).bytes]),
            ([v6, .proto(.tcp), .port(443)], [v6.bytes, [6], [1, 187]]),  // 24 bytes: past the inline capacity
            ([v6, v6, .proto(.tcp), .port(443)], [v6.bytes, v6.bytes, [6], [1, 187]]),
            ([.proto(.tcp), .port(8080)], [[6], [31, 144]]),
        ]
        for (parts, bytes) in cases {
            let expected = Self.reference(bytes)
            #expect(NFTValue.concat(parts).bytes == expected)
            #expect(NFTValue.concat(parts) == NFTValue(bytes: expected))
            #expect(NFTValue.concat(parts).hashValue == NFTValue(bytes: expected).hashValue)
        }
        // The two- and three-part overloads, and the variadic one, agree with the array one.
        #expect(NFTValue.concat(address, .port(80)) == NFTValue.concat([address, .port(80)]))
        #expect(NFTValue.concat(v6, .proto(.tcp), .port(1)) == NFTValue.concat([v6, .proto(.tcp), .port(1)]))
        #expect(NFTValue.concat(address, .proto(.tcp), .port(80), .integer(1)).count == 16)
        #expect(NFTValue.concat(NFTValue.concat(v6, v6), .port(1)) == NFTValue.concat(v6, v6, .port(1)))
    }

    /// Every split of up to three parts of 1–16 bytes, across the inline words and past them.
    @Test func everyPartLengthLandsAtItsPaddedOffset() {
        func part(_ length: Int, _ seed: Int) -> [UInt8] { (0..<length).map { UInt8(truncatingIfNeeded: seed &* 31 &+ $0 &* 7 &+ 1) } }
        for a in 1...16 {
            for b in 1...16 {
                let x = part(a, 1), y = part(b, 2)
                #expect(NFTValue.concat(NFTValue(bytes: x), NFTValue(bytes: y)).bytes == Self.reference([x, y]))
                for c in [1, 2, 4, 16] {
                    let z = part(c, 3), expected = Self.reference([x, y, z])
                    #expect(NFTValue.concat(NFTValue(bytes: x), NFTValue(bytes: y), NFTValue(bytes: z)).bytes == expected)
                    #expect(NFTValue.concat([NFTValue(bytes: x), NFTValue(bytes: y), NFTValue(bytes: z)]) == NFTValue(bytes: expected))
                }
            }
        }
    }

    @Test func equalityLooksAtEveryByteAndTheLength() {
        #expect(NFTValue(bytes: [1, 2, 3]) != NFTValue(bytes: [1, 2, 3, 0]))
        #expect(NFTValue(bytes: []) != NFTValue(bytes: [0]))
        #expect(NFTValue(bytes: Array(repeating: 0, count: 15) + [1]) != NFTValue(bytes: Array(repeating: 0, count: 16)))
        #expect(NFTValue(bytes: Array(repeating: 9, count: 20)) != NFTValue(bytes: Array(repeating: 9, count: 19) + [8]))
        var value = NFTValue(bytes: [1, 2])
        value.bytes = Array(repeating: 1, count: 30)
        #expect(value == NFTValue(bytes: Array(repeating: 1, count: 30)))
        let set: Set<NFTValue> = [.port(80), .port(80), .port(81), NFTValue(bytes: [0, 80])]
        #expect(set.count == 2)
    }

    @Test func successorCarriesAcrossTheWords() {
        let value = NFTValue(bytes: [0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        #expect(value.successor == NFTValue(bytes: [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
        #expect(NFTValue(bytes: [0xff, 0xff]).successor == nil)
    }

    @Test func rareElementFieldsReadBackAsWritten() {
        var element = NFTSetElement(key: .port(1))
        #expect(element.keyEnd == nil && element.timeout == nil)
        element.keyEnd = .port(9)
        element.timeout = .seconds(5)
        #expect(element.keyEnd == .port(9) && element.timeout == .seconds(5))
        let copy = element
        element.keyEnd = nil
        #expect(copy.keyEnd == .port(9))  // a copy keeps its own
        #expect(element.keyEnd == nil && element.timeout == .seconds(5))
        #expect(copy != element)
        element.keyEnd = .port(9)
        #expect(copy == element)
        #expect(NFTSetElement.range(.port(1), .port(9)) == NFTSetElement(key: .port(1), keyEnd: .port(9)))
        #expect(NFTSetElement.range(.port(1), .port(9)) != NFTSetElement(key: .port(1), keyEnd: .port(8)))
    }

    @Test func anIPv4ElementHasNoHeapOfItsOwn() {
        // What the applied model holds a million of: inline keys, the rare fields one reference.
        #expect(MemoryLayout<NFTValue>.stride <= 24)
        #expect(MemoryLayout<NFTSetElement>.stride <= 72)
    }
}
