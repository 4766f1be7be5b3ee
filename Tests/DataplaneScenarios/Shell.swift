import Foundation

/// Runs a command to completion; used by the harness for `ip`, and by dataplane adapters.
public enum Shell {
    public struct Failure: Error, CustomStringConvertible {
        public var argv: [String]
        public var status: Int32
        public var output: String
        public var description: String { "\(argv.joined(separator: " ")) exited \(status): \(output)" }
    }

    /// Runs `argv` (looked up on PATH); returns stdout, throws with stderr on a non-zero exit.
    @discardableResult
    public static func run(_ argv: [String], input: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let inPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
        try process.run()
        if let input {
            inPipe.fileHandleForWriting.write(Data(input.utf8))
            try? inPipe.fileHandleForWriting.close()
        }
        // Outputs here are small; stderr is read after stdout ends.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(argv: argv, status: process.terminationStatus,
                          output: String(decoding: stderr + stdout, as: UTF8.self))
        }
        return String(decoding: stdout, as: UTF8.self)
    }

    /// Whether real-kernel scenarios can run here: root, with `ip` and `python3`.
    public static var canRunNamespaces: Bool {
        getuid() == 0 && (try? run(["ip", "netns", "list"])) != nil && (try? run(["python3", "-c", "pass"])) != nil
    }
}
