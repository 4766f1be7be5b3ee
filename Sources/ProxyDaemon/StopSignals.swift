import Dispatch
import Glibc
import Logging
import Synchronization

/// SIGTERM and SIGINT stop the daemon by cancelling its task, so every part shuts down through the
/// same ordered path as any other cancellation (userspace connections drain for their grace
/// period). A second signal during that shutdown forces the exit at once (status 1), as an
/// operator pressing Ctrl-C twice or a kubelet's repeated TERM expects.
public enum StopSignals {
    public static func runUntilStopped(logger: Logger, _ body: @escaping @Sendable () async throws -> Void) async throws {
        let task = Task { try await body() }
        let received = Atomic(0)
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)   // the dispatch source receives it instead of the default handler
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                // Signals that arrive together are delivered as one event: `data` says how many.
                let count = received.add(Int(source.data), ordering: .relaxed).newValue
                if count >= 2 {
                    logger.warning("second stop signal: exiting without finishing the shutdown", metadata: ["signal": "\(sig)"])
                    exit(1)
                }
                logger.info("stopping on signal \(sig)")
                task.cancel()
            }
            source.resume()
            sources.append(source)
        }
        defer { sources.forEach { $0.cancel() } }
        try await task.value
    }
}
