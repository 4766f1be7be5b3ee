import Foundation

/// A network namespace made for one test (`ip netns add nftt-<random>`), so real-kernel tests never
/// touch the host's ruleset. Call `remove()` in a `defer` right after creating it.
final class TestNamespace: Sendable {
    let name: String

    init() throws {
        name = "nftt-\(UInt32.random(in: 0...UInt32.max))"
        try run(["ip", "netns", "add", name])
    }

    var path: String { "/run/netns/\(name)" }

    /// `ip netns exec NAME nft ARGS...`; throws with nft's stderr on failure.
    @discardableResult
    func nft(_ arguments: String...) throws -> String {
        try run(["ip", "netns", "exec", name, "nft"] + arguments)
    }

    /// Runs a command inside the namespace.
    @discardableResult
    func exec(_ arguments: [String]) throws -> String {
        try run(["ip", "netns", "exec", name] + arguments)
    }

    func remove() {
        _ = try? run(["ip", "netns", "del", name])
    }
}

struct CommandFailure: Error, CustomStringConvertible {
    var command: [String]
    var status: Int32
    var stderr: String
    var description: String { "\(command.joined(separator: " ")) exited \(status): \(stderr)" }
}

/// Runs a program and returns its standard output.
@discardableResult
func run(_ command: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = command
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let error = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CommandFailure(command: command, status: process.terminationStatus, stderr: String(decoding: error, as: UTF8.self))
    }
    return String(decoding: output, as: UTF8.self)
}

/// Real-kernel tests need root (CAP_NET_ADMIN, CAP_SYS_ADMIN for namespaces) and `ip`/`nft`.
let canUseNamespaces: Bool = geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft")
