import EndToEndSupport
import Foundation
@testable import ProxyDaemon
import Testing

/// The files that put the program on a node or in a cluster, checked by the real checkers.
@Suite struct DeploymentFileTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test func systemdAnalyzeVerifiesTheUnit() throws {
        // verify checks that ExecStart exists: point it at the binary this build made.
        let unit = try String(contentsOfFile: Self.root + "/systemd/swift-kube-proxy.service", encoding: .utf8)
        #expect(unit.contains("Type=notify"))
        #expect(unit.contains("Restart=always"))
        #expect(unit.contains("CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW\n"))
        let dir = try ProxyProcess.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/swift-kube-proxy.service"
        try unit.replacingOccurrences(of: "/usr/local/bin/swift-kube-proxy", with: ProxyProcess.binary)
            .write(toFile: path, atomically: true, encoding: .utf8)
        let (status, output) = try runProgram(["systemd-analyze", "verify", path])
        #expect(status == 0, "\(output)")
        #expect(output.isEmpty, "\(output)")
    }

    @Test func theManifestsPassStrictSchemaValidation() throws {
        // kubernetes-validate (PyPI) carries the Kubernetes OpenAPI schemas; --strict rejects unknown fields.
        let (status, output) = try runProgram(["kubernetes-validate", "--strict", Self.root + "/deploy/daemonset.yaml"])
        #expect(status == 0, "\(output)")
        for kind in ["serviceaccount", "clusterrole", "clusterrolebinding", "configmap", "daemonset"] {
            #expect(output.contains("passed for resource \(kind)/swift-kube-proxy"), "\(output)")
        }
    }

    @Test func theConfigMapsKubeProxyConfigurationUsesOnlySupportedFields() throws {
        let manifest = try String(contentsOfFile: Self.root + "/deploy/daemonset.yaml", encoding: .utf8)
        // The block scalar under `config.conf: |`, de-indented.
        let lines = manifest.components(separatedBy: "\n")
        let start = try #require(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "config.conf: |" })
        let body = lines[(start + 1)...].prefix { $0.hasPrefix("    ") || $0.isEmpty }.map { String($0.dropFirst(4)) }
        let config = try KubeProxyConfiguration.parse(yaml: body.joined(separator: "\n"), file: "daemonset.yaml")
        #expect(config.mode == .nftables)
        #expect(config.healthzBindAddress == "0.0.0.0:10256")
        #expect(config.metricsBindAddress == "127.0.0.1:10249")   // the pod overrides it with the node's address
        #expect(manifest.contains("- --metrics-bind-address=$(HOST_IP):10249"))
        #expect(manifest.contains("fieldPath: status.hostIP"))
    }
}
