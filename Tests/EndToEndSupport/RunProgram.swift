import Foundation

/// Runs a program (looked up on PATH) with `input` on stdin; returns its exit status and its
/// stdout and stderr together.
@discardableResult
public func runProgram(_ args: [String], input: String = "") throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = args
    let stdin = Pipe(), out = Pipe()
    process.standardInput = stdin
    process.standardOutput = out
    process.standardError = out
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
