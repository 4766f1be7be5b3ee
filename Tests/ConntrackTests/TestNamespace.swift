import Conntrack
import Foundation
import Glibc

/// A network namespace made for one test (`ip netns add`), removed by `remove()`; only addresses
/// inside it are used.
struct TestNamespace {
    let name: String

    init(prefix: String) throws {
        name = "\(prefix)-\(getpid())-\(UInt16.random(in: 0...UInt16.max))"
        try run("ip", "netns", "add", name)
    }

    func remove() { _ = try? run("ip", "netns", "delete", name) }

    func ip(_ args: String...) throws { try run(["ip", "-n", name] + args) }

    /// `ip netns exec NS nft -f -` with the ruleset on standard input.
    func nft(_ ruleset: String) throws { try run(["ip", "netns", "exec", name, "nft", "-f", "-"], input: ruleset) }

    @discardableResult
    func run(_ args: String...) throws -> String { try run(args) }

    @discardableResult
    func run(_ args: [String], input: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = args
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else { throw CommandFailed(command: args.joined(separator: " "), output: text) }
        return text
    }
}

struct CommandFailed: Error, CustomStringConvertible {
    var command: String
    var output: String
    var description: String { "\(command): \(output)" }
}

/// A UDP socket created inside a namespace; the receive timeout only bounds a test that is already failing.
final class UDPSocket {
    let fd: Int32
    let family: Int32

    init(namespace: String, bind address: String, port: UInt16) throws {
        let v6 = address.contains(":")
        family = v6 ? AF_INET6 : AF_INET
        let fam = family
        fd = try NetworkNamespace.run(namespace) { socket(fam, Int32(SOCK_DGRAM.rawValue), 0) }
        guard fd >= 0 else { throw CommandFailed(command: "socket", output: "errno \(errno)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = Self.withSockaddr(address, port) { bind(fd, $0, $1) }
        guard rc == 0 else { throw CommandFailed(command: "bind \(address):\(port)", output: "errno \(errno)") }
    }

    deinit { close(fd) }

    func send(_ text: String, to address: String, port: UInt16) throws {
        let bytes = Array(text.utf8)
        let n = Self.withSockaddr(address, port) { sa, len in bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, len) } }
        guard n == bytes.count else { throw CommandFailed(command: "sendto \(address):\(port)", output: "errno \(errno)") }
    }

    /// The next datagram, or nil after the timeout.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 2048)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n < 0 ? nil : String(decoding: buffer[..<n], as: UTF8.self)
    }

    static func withSockaddr<T>(_ address: String, _ port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        if address.contains(":") {
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = port.bigEndian
            inet_pton(AF_INET6, address, &sa.sin6_addr)
            return withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        inet_pton(AF_INET, address, &sa.sin_addr)
        return withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    }
}
