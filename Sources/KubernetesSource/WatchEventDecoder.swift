import Foundation
import KubernetesAPI
import NIOCore
import NIOFoundationCompat

/// Turns the bytes of a WATCH response, in whatever chunks they arrive, into events: the API
/// server writes one JSON object per line. Only the unfinished line is held, never the stream.
struct WatchEventDecoder<Item: Decodable & Sendable> {
    /// No real object comes near this (etcd stores at most 1.5 MiB); a longer line is an error.
    static var maxLineBytes: Int { 16 << 20 }

    private var pending = ByteBuffer()
    /// Bytes of `pending` already searched for a newline.
    private var scanned = 0
    private let decoder = JSONDecoder()

    /// Whether part of a line is waiting for the rest (at the end of a stream, an object was cut).
    var hasPartialLine: Bool { pending.readableBytes > 0 }

    struct LineTooLong: Error, CustomStringConvertible {
        var description: String { "watch event longer than \(WatchEventDecoder.maxLineBytes) bytes" }
    }

    struct MalformedEvent: Error, CustomStringConvertible {
        var reason: String
        var description: String { "malformed watch event: \(reason)" }
    }

    /// Appends a chunk and returns every event it completed.
    mutating func feed(_ chunk: ByteBuffer) throws -> [WatchEvent<Item>] {
        var chunk = chunk
        pending.writeBuffer(&chunk)
        var events: [WatchEvent<Item>] = []
        while let newline = pending.readableBytesView.dropFirst(scanned).firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - pending.readableBytesView.startIndex
            let line = pending.readSlice(length: length)!
            pending.moveReaderIndex(forwardBy: 1)
            scanned = 0
            if line.readableBytesView.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { continue }
            do {
                events.append(try decoder.decode(WatchEvent<Item>.self, from: line))
            } catch {
                throw MalformedEvent(reason: Decoded<Item>.describeForWatch(error))
            }
        }
        scanned = pending.readableBytes
        guard scanned <= Self.maxLineBytes else { throw LineTooLong() }
        if pending.readerIndex > 1 << 16 { pending.discardReadBytes() }
        return events
    }
}

extension Decoded {
    static func describeForWatch(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let ctx) = error { return ctx.debugDescription }
        return "\(error)"
    }
}
