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

/// Runs commands with Foundation's `Process`. Stdin and stderr go through temporary files, so a
/// large restore input and a chatty stderr cannot deadlock against the stdout pipe.
public struct ProcessRunner: CommandRunner {
    public init() {}

    public func run(_ argv: [String], input: String?) throws -> String {
        precondition(!argv.isEmpty)
        let fm = FileManager.default
        let base = fm.temporaryDirectory.appendingPathComponent("skp-\(UUID().uuidString)")
        let inURL = base.appendingPathExtension("in"), errURL = base.appendingPathExtension("err")
        defer {
            try? fm.removeItem(at: inURL)
            try? fm.removeItem(at: errURL)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        if let input {
            try Data(input.utf8).write(to: inURL)
            process.standardInput = try FileHandle(forReadingFrom: inURL)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        _ = fm.createFile(atPath: errURL.path, contents: nil)
        let errHandle = try FileHandle(forWritingTo: errURL)
        process.standardError = errHandle
        let out = Pipe()
        process.standardOutput = out
        do {
            try process.run()
        } catch {
            throw CommandError(command: argv, status: -1, stderr: "\(error)")
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try? errHandle.close()
        let stdout = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
            var error = CommandError(command: argv, status: process.terminationStatus, stderr: stderr)
            if let n = CommandError.reportedLine(in: stderr) {
                error.failedLine = n
                if let input {
                    let lines = input.split(separator: "\n", omittingEmptySubsequences: false)
                    if n >= 1 && n <= lines.count { error.failedLineText = String(lines[n - 1]) }
                }
            }
            throw error
        }
        return stdout
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
