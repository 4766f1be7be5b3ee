import EndToEndSupport
import Foundation
import Glibc
import Testing

/// The real binary as systemd and Prometheus see it: READY=1 on $NOTIFY_SOCKET after the first
/// sync, /metrics and /healthz on the configured addresses, --cleanup removing only what is ours.
@Suite struct OperatingEndToEndTests {
    @Test func readyIsNotifiedAfterTheFirstSyncAndTheEndpointsAnswer() async throws {
        let dir = try ProxyProcess.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let notify = try NotifySocket(path: dir + "/notify.sock")
        let metricsPort = try freeTCPPort(), healthPort = try freeTCPPort(), nodePort = try freeTCPPort()
        let config = Manifests.config + "\nmetricsBindAddress: 127.0.0.1:\(metricsPort)\nhealthzBindAddress: 127.0.0.1:\(healthPort)\n"
        try config.write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8)
        try Manifests.service("web", nodePort: nodePort).write(toFile: dir + "/services.yaml", atomically: true, encoding: .utf8)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProxyProcess.binary)
        process.arguments = ["--config", dir + "/config.yaml"]
        // Only what systemd would set (reading this process's environment races other tests' readers).
        process.environment = ["NOTIFY_SOCKET": dir + "/notify.sock"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }

        // Blocks until the datagram arrives (the socket's timeout only ends a test that already failed).
        #expect(notify.receive()?.hasPrefix("READY=1") == true)

        let healthz = await poll({ httpStatus(port: healthPort, path: "/healthz") }, until: { $0 == 200 })
        #expect(healthz == 200)
        let metrics = await poll({ httpBody(port: metricsPort, path: "/metrics") ?? "" }, until: { $0.contains("kubeproxy_sync_proxy_rules_last_timestamp_seconds") })
        #expect(metrics.contains("# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram"))
        #expect(metrics.contains("swift_kube_proxy_userspace_connections_opened_total{service_port=\"default/web:http\"}"))

        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(notify.receive()?.hasPrefix("STOPPING=1") == true)
    }

    /// `--cleanup` in a namespace of the test's own (never the host's rules): our SKP- chains and the
    /// jumps to them go, a chain of someone else's stays, and the exit status is 0.
    @Test(.enabled(if: getuid() == 0, "needs root for network namespaces"))
    func cleanupRemovesOurChainsAndNothingElse() throws {
        let ns = "skp-cleanup-\(getpid())-\(UInt16.random(in: 0...UInt16.max))"
        _ = try runProgram(["ip", "netns", "add", ns])
        defer { _ = try? runProgram(["ip", "netns", "delete", ns]) }
        // Foundation's Process (which runs iptables-save) needs a working loopback, as every node has.
        _ = try runProgram(["ip", "-n", ns, "link", "set", "lo", "up"])
        _ = try runProgram(["ip", "netns", "exec", ns, "iptables-nft-restore", "--noflush"], input: """
            *nat
            :SKP-SERVICES - [0:0]
            :OTHER-CHAIN - [0:0]
            -A OUTPUT -j SKP-SERVICES
            -A OUTPUT -j OTHER-CHAIN
            COMMIT

            """)
        let (status, output) = try runProgram(["timeout", "60", "ip", "netns", "exec", ns, ProxyProcess.binary, "--cleanup"])
        #expect(status == 0, "\(output)")
        let (_, after) = try runProgram(["ip", "netns", "exec", ns, "iptables-nft-save", "-t", "nat"])
        #expect(!after.contains("SKP-"), "\(after)")
        #expect(after.contains(":OTHER-CHAIN"), "\(after)")
        #expect(after.contains("-A OUTPUT -j OTHER-CHAIN"), "\(after)")
    }
}

/// A unix datagram socket standing in for systemd's notify socket.
final class NotifySocket {
    let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { dst in for (i, b) in path.utf8.enumerated() { dst[i] = b } }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0 else { throw POSIXError(.EADDRINUSE) }
    }

    deinit { close(fd) }

    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n < 0 ? nil : String(decoding: buffer[..<n], as: UTF8.self)
    }
}

func freeTCPPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return UInt16(bigEndian: a.sin_port)
}

/// curl, one request (the test dependencies install it).
func httpStatus(port: UInt16, path: String) -> Int? {
    guard let out = curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)\(path)"]) else { return nil }
    return Int(out)
}

func httpBody(port: UInt16, path: String) -> String? { curl(["-sf", "http://127.0.0.1:\(port)\(path)"]) }

private func curl(_ args: [String]) -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["curl", "--max-time", "5"] + args
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
}
