import EndToEndSupport
import Foundation
import Testing

/// The real binary on the embedded file source, traffic through real sockets on loopback.
@Suite(.serialized) struct FileSourceEndToEndTests {
    @Test func nodePortAlternatesBetweenBackends() async throws {
        let a = try LineBackend(name: "a"), b = try LineBackend(name: "b")
        defer { a.stop(); b.stop() }
        let nodePort = freeNodePort()
        let proxy = try ProxyProcess(config: Manifests.config, manifests: Manifests.service("web", nodePort: nodePort)
            + Manifests.slice("web-a", service: "web", backendPort: Int(a.port)) + Manifests.slice("web-b", service: "web", backendPort: Int(b.port)))
        defer { proxy.stop() }
        _ = await poll({ fetchLine(port: nodePort) }, until: { $0 != nil })
        let seen = (0..<6).compactMap { _ in fetchLine(port: nodePort) }
        #expect(seen.count == 6, "\(proxy.stderr)")
        #expect(Set(seen) == ["a", "b"])
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0 != $1 }, "not alternating: \(seen)")
    }

    @Test func editsAddAndRemoveServicesLiveAndBrokenEditsKeepTheOldState() async throws {
        let a = try LineBackend(name: "a"), b = try LineBackend(name: "b")
        defer { a.stop(); b.stop() }
        let webPort = freeNodePort(), apiPort = freeNodePort()
        let web = Manifests.service("web", nodePort: webPort) + Manifests.slice("web-a", service: "web", backendPort: Int(a.port))
        let api = Manifests.service("api", nodePort: apiPort, clusterIP: "10.96.0.81") + Manifests.slice("api-b", service: "api", backendPort: Int(b.port))
        let proxy = try ProxyProcess(config: Manifests.config, manifests: web)
        defer { proxy.stop() }
        #expect(await poll({ fetchLine(port: webPort) }, until: { $0 == "a" }) == "a")
        #expect(fetchLine(port: apiPort) == nil)

        try proxy.writeManifests(web + api)
        #expect(await poll({ fetchLine(port: apiPort) }, until: { $0 == "b" }) == "b")

        // A broken edit: the error names the file and line; both Services keep working.
        try proxy.writeManifests(web + api.replacingOccurrences(of: "port: 80\n", with: "port: eighty\n"))
        let log = await poll({ proxy.stderr }, until: { $0.contains("services.yaml:") })
        #expect(log.contains("services.yaml:") && log.contains("spec.ports[0].port"), "\(log)")
        #expect(fetchLine(port: apiPort) == "b")
        #expect(fetchLine(port: webPort) == "a")

        // Removing web closes its NodePort.
        try proxy.writeManifests(api)
        #expect(await poll({ fetchLine(port: webPort) }, until: { $0 == nil }) == nil)
        #expect(fetchLine(port: apiPort) == "b")
        #expect(proxy.stop() == 0)
    }

    @Test func configErrorExitsNonZeroNamingFileLineAndKey() throws {
        let dir = try ProxyProcess.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "mode: userspace\nmanifests: services.yaml\nuserspace:\n  dialTimeout: soon\n".write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProxyProcess.binary)
        process.arguments = ["--config", dir + "/config.yaml"]
        let pipe = Pipe()
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(output.contains("config.yaml:4:16: userspace.dialTimeout: expected a duration"), "\(output)")
    }
}
