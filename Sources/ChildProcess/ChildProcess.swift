import Dispatch
import Foundation
import Synchronization

/// A command run to completion, with stdin, stdout and stderr on pipes and a deadline.
///
/// Pipes, not temporary files: the shipped DaemonSet runs with a read-only root filesystem and no
/// `/tmp`. Each stream is served on a thread of its own, so a large input and a chatty stderr cannot
/// deadlock against a full stdout pipe. A command still running at its deadline is killed
/// (SIGKILL: a hung `iptables-restore` waiting on a lock, or an exec credential plugin waiting for
/// a prompt nobody answers, must not stall the caller for ever).
public struct ChildProcess: Sendable {
    /// The command and its arguments; a bare name is looked up in `PATH`.
    public var argv: [String]
    /// The child's whole environment; nil: ours.
    public var environment: [String: String]?
    public var timeout: Duration

    public init(_ argv: [String], environment: [String: String]? = nil, timeout: Duration = .seconds(60)) {
        precondition(!argv.isEmpty, "a command needs a name")
        self.argv = argv
        self.environment = environment
        self.timeout = timeout
    }

    public struct Outcome: Sendable {
        /// The exit status, or the signal number when `exitedBySignal`.
        public var status: Int32
        public var exitedBySignal: Bool
        /// The deadline passed and the child was killed.
        public var timedOut: Bool
        public var stdout: Data
        public var stderr: Data

        public var succeeded: Bool { status == 0 && !exitedBySignal && !timedOut }
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// Runs the command with `input` on its stdin (none: /dev/null). Throws only when it cannot be
    /// started; a non-zero exit or a timeout is in the outcome.
    public func run(input: Data? = nil) throws -> Outcome {
        Self.ignoreSIGPIPE
        let process = Process()
        if argv[0].contains("/") {
            process.executableURL = URL(fileURLWithPath: argv[0])
            process.arguments = Array(argv.dropFirst())
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = argv
        }
        if let environment { process.environment = environment }
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()

        let out = PipeDrain(stdout.fileHandleForReading), err = PipeDrain(stderr.fileHandleForReading)
        if let input {
            let writer = stdin.fileHandleForWriting
            DispatchQueue.global().async {
                // A child that exits without reading it all makes this fail with EPIPE: its exit
                // status says what went wrong, so the error here is not worth more.
                try? writer.write(contentsOf: input)
                try? writer.close()
            }
        }
        let watchdog = Watchdog(pid: process.processIdentifier, timeout: timeout)
        process.waitUntilExit()
        let timedOut = watchdog.childExited()
        return Outcome(status: process.terminationStatus, exitedBySignal: process.terminationReason == .uncaughtSignal,
                       timedOut: timedOut, stdout: out.wait(), stderr: err.wait())
    }

    /// A write to a pipe whose reader has gone must fail with EPIPE, not end this process.
    private static let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()
}

/// Reads a pipe to its end on a thread of its own.
private final class PipeDrain: Sendable {
    private let data = Mutex<Data?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        DispatchQueue.global().async { [self] in
            let bytes = handle.readDataToEndOfFile()
            data.withLock { $0 = bytes }
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data.withLock { $0 ?? Data() }
    }
}

/// Kills the child at its deadline unless it has exited and been waited for by then.
private final class Watchdog: Sendable {
    private struct State { var exited = false, fired = false }
    private let state = Mutex(State())

    init(pid: Int32, timeout: Duration) {
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [self] in
            // Under the lock that `childExited` takes right after the wait returns, so the pid is
            // still the child's (it can be reused only once waited for, in that short window).
            state.withLock { s in
                guard !s.exited else { return }
                s.fired = true
                kill(pid, SIGKILL)
            }
        }
    }

    /// Call once the child has been waited for; true when the deadline killed it.
    func childExited() -> Bool {
        state.withLock { s in
            s.exited = true
            return s.fired
        }
    }
}
