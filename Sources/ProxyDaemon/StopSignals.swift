import Dispatch
import Glibc
import Logging

/// SIGTERM and SIGINT stop the daemon by cancelling its task, so every part shuts down through the
/// same path as any other cancellation.
public enum StopSignals {
    public static func runUntilStopped(logger: Logger, _ body: @escaping @Sendable () async throws -> Void) async throws {
        let task = Task { try await body() }
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)   // the dispatch source receives it instead of the default handler
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
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
