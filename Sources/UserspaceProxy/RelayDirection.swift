/// How one direction holds bytes in flight: a kernel pipe (splice, zero-copy) or a user-space
/// buffer when no pipe could be had.
enum RelayChannel {
    case none
    case pipe(Pipe)
    case buffer(ByteBuffer)
}

/// One direction of a relay (client → backend or back): reads its source while its channel has
/// room, writes its sink while the sink takes bytes. Never holds more than the channel's capacity:
/// a full channel simply stops the reading (back-pressure), and EPOLLOUT on the sink resumes it.
struct RelayDirection {
    enum Outcome {
        case moved(Int)
        case failed(Int32)
    }

    var source: Int32 = -1
    var sink: Int32 = -1
    var channel: RelayChannel = .none
    /// Bytes in the pipe (the buffer counts its own).
    private(set) var inPipe = 0
    private(set) var sourceEnded = false
    /// The sink got our FIN (or failed): nothing more goes this way.
    private(set) var finished = false
    private(set) var broken = false

    var isEmpty: Bool {
        switch channel {
        case .none: true
        case .pipe: inPipe == 0
        case .buffer(let b): b.filled == 0
        }
    }

    /// Moves what can be moved now. `sourceReadable`/`sinkWritable` are the edge-triggered readiness
    /// flags: cleared here on EAGAIN, set again by the loop on the next event.
    mutating func pump(sourceReadable: inout Bool, sinkWritable: inout Bool, capacity: Int) -> Outcome {
        guard !finished else { return .moved(0) }
        var moved = 0
        switch channel {
        case .none:
            return .moved(0)
        case .pipe(let pipe):
            while true {
                var progressed = false
                if sourceReadable, !sourceEnded, inPipe < capacity {
                    switch Socket.splice(from: source, to: pipe.write, count: capacity - inPipe) {
                    case .transferred(let n): inPipe += n; progressed = true
                    case .endOfFile: sourceEnded = true; progressed = true
                    // EAGAIN means "socket empty" or "pipe full" (a pipe fills by slots, not bytes):
                    // with bytes in the pipe, assume full and retry after draining it.
                    case .wouldBlock: if inPipe == 0 { sourceReadable = false }
                    case .failed(let code): return fail(code)
                    }
                }
                if inPipe > 0, sinkWritable {
                    switch Socket.splice(from: pipe.read, to: sink, count: inPipe) {
                    case .transferred(let n): inPipe -= n; moved += n; progressed = true
                    case .wouldBlock, .endOfFile: sinkWritable = false
                    case .failed(let code): return fail(code)
                    }
                }
                if !progressed { break }
            }
        case .buffer(let buffer):
            while true {
                var progressed = false
                if sourceReadable, !sourceEnded, buffer.space > 0 {
                    switch buffer.readSome(from: source) {
                    case .transferred: progressed = true
                    case .endOfFile: sourceEnded = true; progressed = true
                    case .wouldBlock: sourceReadable = false
                    case .failed(let code): return fail(code)
                    }
                }
                if buffer.filled > 0, sinkWritable {
                    switch buffer.writeSome(to: sink) {
                    case .transferred(let n): moved += n; progressed = true
                    case .wouldBlock, .endOfFile: sinkWritable = false
                    case .failed(let code): return fail(code)
                    }
                }
                if !progressed { break }
            }
        }
        if sourceEnded, isEmpty {
            // Half-close forwarded: the other direction may still be talking.
            Socket.shutdownWrite(sink)
            finished = true
        }
        return .moved(moved)
    }

    private mutating func fail(_ code: Int32) -> Outcome {
        finished = true
        broken = true
        return .failed(code)
    }
}
