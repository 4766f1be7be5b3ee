import Foundation
import Glibc

/// The real `swift-kube-proxy` binary, started on a config in a scratch directory (behind
/// `prefix`, such as `ip netns exec NODE`), stopped with SIGTERM or killed. Its stderr is kept for
/// assertions, also after it ended and the directory is gone.
public final class ProxyProcess: @unchecked Sendable {
    public let directory: String
    public let process = Process()
    private let logFile: String
    private var endedStderr: String?

    /// The executable beside the test bundle (`swift build` puts both in the same folder).
    public static var binary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("swift-kube-proxy").path
    }

    public static func scratchDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("skp-e2e-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    public init(config: String, manifests: String, directory: String? = nil, prefix: [String] = []) throws {
        self.directory = try directory ?? ProxyProcess.scratchDirectory()
        try config.write(toFile: self.directory + "/config.yaml", atomically: true, encoding: .utf8)
        try manifests.write(toFile: self.directory + "/services.yaml", atomically: true, encoding: .utf8)
        logFile = self.directory + "/stderr.log"
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = prefix + [ProxyProcess.binary, "--config", self.directory + "/config.yaml"]
        process.standardError = FileHandle(forWritingAtPath: logFile)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    /// Something accepts TCP connections on 127.0.0.1:`port`.
    public static func isListening(port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        var addr = loopback(port: port)
        return withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    public var stderr: String { endedStderr ?? (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    public func writeManifests(_ text: String) throws {
        try text.write(toFile: directory + "/services.yaml", atomically: true, encoding: .utf8)
    }

    /// SIGTERM, then waits for the exit; returns the exit status.
    @discardableResult
    public func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        return ended()
    }

    /// SIGKILL, as a crash would end it (nothing of its own is cleaned up); returns the exit status.
    @discardableResult
    public func kill() -> Int32 {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        return ended()
    }

    private func ended() -> Int32 {
        process.waitUntilExit()
        if endedStderr == nil {
            endedStderr = stderr
            try? FileManager.default.removeItem(atPath: directory)
        }
        return process.terminationStatus
    }
}

/// Polls `body` until it returns a value that `accept` takes (bounded; no fixed sleeps).
public func poll<T>(tries: Int = 300, _ body: () -> T, until accept: (T) -> Bool) async -> T {
    var value = body()
    for _ in 0..<tries where !accept(value) {
        try? await Task.sleep(for: .milliseconds(20))
        value = body()
    }
    return value
}

public enum Manifests {
    public static func service(_ name: String, nodePort: UInt16, clusterIP: String = "10.96.0.80") -> String {
        """
        apiVersion: v1
        kind: Service
        metadata:
          name: \(name)
          namespace: default
        spec:
          type: NodePort
          clusterIP: \(clusterIP)
          ports:
          - name: http
            port: 80
            targetPort: 8080
            nodePort: \(nodePort)
        ---

        """
    }

    /// A ready IPv4 EndpointSlice of `service`: one endpoint per address, all on `backendPort`.
    public static func slice(_ name: String, service: String, backendPort: Int, addresses: [String] = ["127.0.0.1"],
                             portName: String = "http", protocol proto: String = "TCP") -> String {
        let endpoints = addresses.map { "- addresses: [\"\($0)\"]\n  conditions: {ready: true}" }.joined(separator: "\n")
        return """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: \(name)
          namespace: default
          labels:
            kubernetes.io/service-name: \(service)
        addressType: IPv4
        ports:
        - name: \(portName)
          port: \(backendPort)
          protocol: \(proto)
        endpoints:
        \(endpoints)
        ---

        """
    }

    public static let config = """
    mode: userspace
    source: file
    manifests: services.yaml
    nodePortAddresses: ["127.0.0.1"]
    minSyncPeriod: 50ms
    userspace:
      eventLoops: 2
      redirects: false    # these tests run in the host's namespace: never touch its nftables
    """
}
