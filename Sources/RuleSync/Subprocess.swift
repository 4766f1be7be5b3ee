import ChildProcess
import Foundation

/// A command that exited non-zero (or could not start), with what it printed on stderr.
public struct CommandError: Error, Sendable, CustomStringConvertible {
    public var command: [String]
    /// Exit status; -1 when the command could not be started.
    public var status: Int32
    public var stderr: String
    /// The input line `iptables-restore` reported ("line N failed"), 1-based, when it named one.
    public var failedLine: Int?
    /// That line's text, when the input was ours.
    public var failedLineText: String?

    public var description: String {
        var s = "\(command.joined(separator: " ")) exited \(status): \(stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
        if let n = failedLine { s += " [line \(n)\(failedLineText.map { ": \($0)" } ?? "")]" }
        return s
    }
}

/// Runs commands; a protocol so tests and benchmarks may record or fake them.
public protocol CommandRunner: Sendable {
    /// Runs `argv` with `input` on stdin; returns stdout. Throws `CommandError` on a non-zero exit.
    func run(_ argv: [String], input: String?) throws -> String
}

/// Runs commands through pipes (no temporary files: the root filesystem may be read-only), killing
/// one that outlives `timeout` (a hung `iptables-restore` must not stall every later sync).
public struct ProcessRunner: CommandRunner {
    public var timeout: Duration

    public init(timeout: Duration = .seconds(60)) { self.timeout = timeout }

    public func run(_ argv: [String], input: String?) throws -> String {
        let outcome: ChildProcess.Outcome
        do {
            outcome = try ChildProcess(argv, timeout: timeout).run(input: input.map { Data($0.utf8) })
        } catch {
            throw CommandError(command: argv, status: -1, stderr: "\(error)")
        }
        guard outcome.succeeded else {
            let stderr = outcome.timedOut ? "killed after \(timeout) (timed out)\n" + outcome.stderrText : outcome.stderrText
            var error = CommandError(command: argv, status: outcome.status, stderr: stderr)
            if let n = CommandError.reportedLine(in: stderr) {
                error.failedLine = n
                if let input {
                    let lines = input.split(separator: "\n", omittingEmptySubsequences: false)
                    if n >= 1 && n <= lines.count { error.failedLineText = String(lines[n - 1]) }
                }
            }
            throw error
        }
        return String(decoding: outcome.stdout, as: UTF8.self)
    }
}

extension CommandError {
    /// "…: line 12 failed" (legacy and nft) or "Error occurred at line: 12" (nft).
    static func reportedLine(in stderr: String) -> Int? {
        for marker in ["line ", "at line: "] {
            var rest = Substring(stderr)
            while let r = rest.range(of: marker) {
                let digits = rest[r.upperBound...].prefix { $0.isNumber }
                if let n = Int(digits), !digits.isEmpty { return n }
                rest = rest[r.upperBound...]
            }
        }
        return nil
    }
}
