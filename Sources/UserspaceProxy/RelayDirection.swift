/// How one direction holds bytes in flight. It starts by copying through the loop's scratch buffer
/// (requests and responses are mostly small: one recv and one send each, and a short read tells
/// the socket is drained without a further EAGAIN call). Once a read fills the whole scratch buffer
/// the stream is bulk, and the direction moves to a pipe pair and splice(2) for the rest of the
/// connection: the bytes then never enter user space. (HAProxy's splice-auto works the same way.)
enum RelayChannel {
    /// `spill` holds what the sink did not take (at most one scratch buffer), taken from the loop.
    case copy(spill: ByteBuffer?)
    case pipe(Pipe)
}

/// One direction of a relay (client → backend or back): reads its source only while its sink
/// takes bytes and nothing is left over, so it never holds more than one buffer or one pipe
/// (back-pressure); EPOLLOUT on the sink resumes it.
struct RelayDirection {
    enum Outcome {
        case moved(Int)
        case failed(Int32)
    }

    var source: Int32 = -1
    var sink: Int32 = -1
    private(set) var channel = RelayChannel.copy(spill: nil)
    /// Bytes in the pipe.
    private var inPipe = 0
    /// A read filled the scratch buffer: splice from now on.
    private var bulk = false
    private var sourceEnded = false
    /// The sink got our FIN (or failed): nothing more goes this way.
    private(set) var finished = false

    var isEmpty: Bool {
        switch channel {
        case .copy(let spill): (spill?.filled ?? 0) == 0
        case .pipe: inPipe == 0
        }
    }

    /// Moves what can be moved now. `sourceReadable`/`sinkWritable` are the edge-triggered readiness
    /// flags: cleared here when the socket says it is drained or full, set again by the next event.
    /// `sourceHungUp`: the source's FIN (or an error) is known to be queued, so a short read must
    /// be followed by one more to see it — no further event will come for it.
    /// `lastToFinish`: the other direction is done, so the relay closes both sockets as soon as this
    /// one finishes, and close sends the FIN that shutdown would have.
    mutating func pump(sourceReadable: inout Bool, sinkWritable: inout Bool, sourceHungUp: Bool, lastToFinish: Bool, loop: EventLoop) -> Outcome {
        guard !finished else { return .moved(0) }
        var moved = 0
        if case .copy = channel {
            switch copy(sourceReadable: &sourceReadable, sinkWritable: &sinkWritable, sourceHungUp: sourceHungUp, loop: loop) {
            case .moved(let n): moved += n
            case .failed(let code): return fail(code)
            }
        }
        if case .pipe(let pipe) = channel {
            switch splice(pipe, sourceReadable: &sourceReadable, sinkWritable: &sinkWritable, capacity: loop.pipeCapacity) {
            case .moved(let n): moved += n
            case .failed(let code): return fail(code)
            }
        }
        if sourceEnded, isEmpty {
            // Half-close forwarded: the other direction may still be talking.
            if !lastToFinish { Socket.shutdownWrite(sink) }
            finished = true
        }
        return .moved(moved)
    }

    /// Returns at once when the stream turns bulk and a pipe could be had (channel is then .pipe).
    private mutating func copy(sourceReadable: inout Bool, sinkWritable: inout Bool, sourceHungUp: Bool, loop: EventLoop) -> Outcome {
        var moved = 0
        relaying: while true {
            if case .copy(let spill?) = channel {
                guard sinkWritable else { break relaying }
                switch spill.writeSome(to: sink) {
                case .transferred(let n):
                    moved += n
                    if spill.filled > 0 {
                        sinkWritable = false
                        break relaying
                    }
                    loop.recycle(spill)
                    channel = .copy(spill: nil)
                case .wouldBlock, .endOfFile:
                    sinkWritable = false
                    break relaying
                case .failed(let code):
                    return .failed(code)
                }
            }
            guard sourceReadable, sinkWritable, !sourceEnded else { break relaying }
            if bulk, let pipe = loop.pipeForBulk() {
                channel = .pipe(pipe)
                break relaying
            }
            let scratch = loop.scratch
            scratch.clear()
            switch scratch.readSome(from: source) {
            case .endOfFile:
                sourceEnded = true
                break relaying
            case .wouldBlock:
                sourceReadable = false
                break relaying
            case .failed(let code):
                return .failed(code)
            case .transferred(let n):
                // A short read drained the socket: skip the EAGAIN call, the next byte brings an event.
                if n < scratch.capacity { sourceReadable = sourceHungUp } else { bulk = true }
            }
            switch scratch.writeSome(to: sink) {
            case .transferred(let n):
                moved += n
            case .wouldBlock, .endOfFile:
                break
            case .failed(let code):
                return .failed(code)
            }
            if scratch.filled > 0 {
                sinkWritable = false
                channel = .copy(spill: loop.spill(copying: scratch))
            }
        }
        return .moved(moved)
    }

    private mutating func splice(_ pipe: Pipe, sourceReadable: inout Bool, sinkWritable: inout Bool, capacity: Int) -> Outcome {
        var moved = 0
        while true {
            var progressed = false
            if sourceReadable, !sourceEnded, inPipe < capacity {
                switch Socket.splice(from: source, to: pipe.write, count: capacity - inPipe) {
                case .transferred(let n): inPipe += n; progressed = true
                case .endOfFile: sourceEnded = true; progressed = true
                // EAGAIN means "socket empty" or "pipe full" (a pipe fills by slots, not bytes):
                // with bytes in the pipe, assume full and retry after draining it.
                case .wouldBlock: if inPipe == 0 { sourceReadable = false }
                case .failed(let code): return .failed(code)
                }
            }
            if inPipe > 0, sinkWritable {
                switch Socket.splice(from: pipe.read, to: sink, count: inPipe) {
                case .transferred(let n): inPipe -= n; moved += n; progressed = true
                case .wouldBlock, .endOfFile: sinkWritable = false
                case .failed(let code): return .failed(code)
                }
            }
            if !progressed { break }
        }
        return .moved(moved)
    }

    private mutating func fail(_ code: Int32) -> Outcome {
        finished = true

        return .failed(code)
    }

    /// Hands the channel back to the loop when the relay ends.
    mutating func release(to loop: EventLoop) {
        switch channel {
        case .copy(let spill?): loop.recycle(spill)
        case .copy(nil): break
        case .pipe(let pipe): loop.recycle(pipe, empty: inPipe == 0)
        }
        channel = .copy(spill: nil)
        inPipe = 0
    }
}
