/// A pipe pair end-to-end: splice moves socket → `write`, then `read` → socket.
struct Pipe {
    let read: Int32
    let write: Int32
}

/// Idle pipes kept by one loop: creating a pipe costs two descriptors and a few syscalls, and every
/// relay needs two of them. Only empty pipes come back here (a pipe with bytes left is closed).
struct PipePool {
    private var idle: [Pipe] = []
    let limit: Int
    let pipeSize: Int

    init(limit: Int, pipeSize: Int) {
        self.limit = limit
        self.pipeSize = pipeSize
    }

    /// A pipe, or nil when the process cannot make one (EMFILE): the relay then copies instead.
    mutating func take() -> Pipe? {
        if let pipe = idle.popLast() { return pipe }
        guard let fds = Socket.pipe(size: pipeSize) else { return nil }
        return Pipe(read: fds.read, write: fds.write)
    }

    mutating func giveBack(_ pipe: Pipe, empty: Bool) {
        if empty, idle.count < limit {
            idle.append(pipe)
        } else {
            Socket.close(pipe.read)
            Socket.close(pipe.write)
        }
    }

    mutating func closeAll() {
        for pipe in idle {
            Socket.close(pipe.read)
            Socket.close(pipe.write)
        }
        idle = []
    }
}
