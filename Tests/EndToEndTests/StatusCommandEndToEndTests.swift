import EndToEndSupport
import Foundation
import Glibc
import Testing

/// The operator's commands on the real binary: `status` against a running daemon (file source,
/// userspace mode, loopback), `/status` refused to clients off loopback, and `--version`.
@Suite(.serialized) struct StatusCommandEndToEndTests {
    @Test func statusListsServicePortsEndpointsAndCounters() async throws {
        let backend = try LineBackend(name: "a")
        defer { backend.stop() }
        let nodePort = freeNodePort(), metricsPort = try freeTCPPort()
        let proxy = try ProxyProcess(config: Manifests.config + "\nmetricsBindAddress: 127.0.0.1:\(metricsPort)\n",
                                     manifests: Manifests.service("web", nodePort: nodePort)
                                         + Manifests.slice("web-a", service: "web", backendPort: Int(backend.port)))
        defer { proxy.stop() }
        #expect(await poll({ fetchLine(port: nodePort) }, until: { $0 == "a" }) == "a", "\(proxy.stderr)")

        // The relay's counters settle once the connection has closed on both sides: poll for that.
        let command = [ProxyProcess.binary, "--config", proxy.directory + "/config.yaml", "status"]
        let expected = "  connections: 1 opened, 0 active, 0 rejected, 0 dial failures; bytes: 0 in, 2 out; udp flows: 0 total, 0 active"
        let (status, output) = await poll({ (try? runProgram(command)) ?? (-1, "") }, until: { $0.output.contains(expected) })
        #expect(status == 0, "\(output)")
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.first == "mode: userspace")
        #expect(lines.contains("default/web:http TCP"), "\(output)")
        #expect(lines.contains("  frontends: 10.96.0.80:80, nodePort \(nodePort)"), "\(output)")
        #expect(lines.contains("  -> 127.0.0.1:\(backend.port) ready"), "\(output)")
        #expect(lines.contains(expected), "\(output)")
    }

    /// Off loopback (another address of the node, in a namespace of the test's own), `/status` is
    /// refused while `/metrics` on the same port answers.
    @Test(.enabled(if: getuid() == 0, "needs root for network namespaces"))
    func statusAnswersLoopbackClientsOnly() async throws {
        let ns = "skp-status-\(getpid())-\(UInt16.random(in: 0...UInt16.max))"
        _ = try runProgram(["ip", "netns", "add", ns])
        defer { _ = try? runProgram(["ip", "netns", "delete", ns]) }
        _ = try runProgram(["ip", "-n", ns, "link", "set", "lo", "up"])
        // A veth pair kept inside the namespace gives the node an address that is not loopback.
        _ = try runProgram(["ip", "-n", ns, "link", "add", "node0", "type", "veth", "peer", "name", "node1"])
        _ = try runProgram(["ip", "-n", ns, "link", "set", "node1", "up"])
        _ = try runProgram(["ip", "-n", ns, "addr", "add", "10.200.0.1/24", "dev", "node0"])
        _ = try runProgram(["ip", "-n", ns, "link", "set", "node0", "up"])
        let proxy = try ProxyProcess(config: Manifests.config + "\nmetricsBindAddress: 0.0.0.0:10249\nhealthzBindAddress: 0.0.0.0:0\n",
                                     manifests: Manifests.service("web", nodePort: 30080), prefix: ["ip", "netns", "exec", ns])
        defer { proxy.stop() }
        func code(_ url: String) throws -> String {
            try runProgram(["ip", "netns", "exec", ns, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url]).output
        }
        #expect(await poll({ (try? code("http://127.0.0.1:10249/status")) ?? "" }, until: { $0 == "200" }) == "200", "\(proxy.stderr)")
        #expect(try code("http://10.200.0.1:10249/status") == "403")
        #expect(try code("http://10.200.0.1:10249/metrics") == "200")
        let (status, output) = try runProgram(["ip", "netns", "exec", ns, ProxyProcess.binary, "--config", proxy.directory + "/config.yaml", "status"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("default/web:http TCP"), "\(output)")
    }

    /// `--version`: the version and the commit the binary was built from (a commit of this
    /// repository), or `unknown` when the sources are no git checkout.
    @Test func versionNamesTheCommit() throws {
        let (status, output) = try runProgram([ProxyProcess.binary, "--version"])
        #expect(status == 0)
        let line = output.trimmingCharacters(in: .whitespacesAndNewlines)
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
        guard (try? runProgram(["git", "-C", source, "rev-parse", "HEAD"]))?.status == 0 else {
            #expect(line == "0.1.0 (commit unknown)")
            return
        }
        let match = try #require(line.wholeMatch(of: /0\.1\.0 \(commit ([0-9a-f]{12})(-dirty)?\)/), "\(line)")
        let (known, _) = try runProgram(["git", "-C", source, "cat-file", "-e", "\(match.1)^{commit}"])
        #expect(known == 0, "\(match.1) is no commit of this repository")
    }
}
