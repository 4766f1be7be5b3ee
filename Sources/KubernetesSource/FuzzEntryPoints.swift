import KubernetesAPI
import NIOCore

/// A public door for the fuzz harnesses in Fuzz/ onto the WATCH decoder, which is otherwise internal.
/// Nothing in the program calls these.
public enum FuzzEntryPoints {
    /// Feeds `bytes` to a WATCH decoder in chunks split at `cuts`, as a server's chunks would arrive;
    /// returns the events (or nil when the stream is rejected) and whether a line was left unfinished.
    public static func watchEvents<Item: Decodable & Sendable>(
        _ type: Item.Type, bytes: [UInt8], cuts: [Int]
    ) -> (events: [WatchEvent<Item>]?, partial: Bool) {
        var decoder = WatchEventDecoder<Item>()
        var events: [WatchEvent<Item>] = []
        var start = 0
        for cut in cuts.sorted() + [bytes.count] where cut >= start && cut <= bytes.count {
            do {
                events += try decoder.feed(ByteBuffer(bytes: bytes[start..<cut]))
            } catch {
                return (nil, decoder.hasPartialLine)
            }
            start = cut
        }
        return (events, decoder.hasPartialLine)
    }
}
