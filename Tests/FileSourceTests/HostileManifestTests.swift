@testable import FileSource
import ProxyModel
import Testing

/// Manifests the API server would refuse, and manifests built to exhaust us: each is refused with
/// its file and line, quickly, and nothing of the reading is used.
@Suite struct HostileManifestTests {
    static func service(namespace: String = "default", name: String = "web", portName: String = "http",
                        port: String = "80", targetPort: String = "8080") -> String {
        """
        apiVersion: v1
        kind: Service
        metadata:
          name: \(name)
          namespace: \(namespace)
        spec:
          clusterIP: 10.96.0.80
          ports:
          - name: \(portName)
            port: \(port)
            targetPort: \(targetPort)
        """
    }

    func refusal(_ yaml: String, limits: ManifestLimits = .standard) -> String? {
        var set = ManifestSet()
        do {
            try set.add(yaml: yaml, file: "m.yaml", limits: limits)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func namesAtTheAPILimitsAreOrdinary() {
        let longest = String(repeating: "a", count: 63)
        #expect(refusal(Self.service(namespace: longest, name: "w" + String(repeating: "1", count: 62), portName: longest,
                                     targetPort: "abcdefghij-1234")) == nil)
    }

    @Test(arguments: [
        (service(namespace: "Default"), "m.yaml:5:14: Service Default/web: metadata.namespace: \"Default\" must be a DNS-1123 label"),
        (service(name: "1web"), "m.yaml:4:9: Service default/1web: metadata.name: \"1web\" must be a DNS-1035 label"),
        (service(name: String(repeating: "w", count: 64)), "metadata.name: \"\(String(repeating: "w", count: 64))\" must be a DNS-1035 label"),
        (service(name: "wéb"), "metadata.name: \"wéb\" must be a DNS-1035 label"),
        (service(name: "\"web\\\"\\n-A INPUT -j ACCEPT\""), "must be a DNS-1035 label"),
        (service(portName: "HTTP"), "m.yaml:9:11: Service default/web: spec.ports[0].name: \"HTTP\" must be a DNS-1123 label"),
        (service(port: "0"), "spec.ports[0].port: 0 is not a port"),
        (service(port: "65536"), "spec.ports[0].port: 65536 is not a port"),
        (service(targetPort: "sixteen-chars-xx"), "spec.ports[0].targetPort: \"sixteen-chars-xx\" must be an IANA service name"),
        (service(targetPort: "1234"), nil),
        (service(targetPort: "a--b"), "must be an IANA service name"),
    ])
    func theAPIServersRulesApply(yaml: String, expected: String?) {
        let got = refusal(yaml)
        if let expected {
            #expect(got?.contains(expected) == true, "\(got ?? "accepted")")
        } else {
            #expect(got == nil)
        }
    }

    @Test func anAliasBombIsRefusedWithoutExpandingIt() {
        // Nine levels of nine aliases: 9^9 (387 million) scalars once expanded.
        var yaml = "a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n"
        for level in 1...9 {
            yaml += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]\n"
        }
        let got = refusal(yaml)
        #expect(got?.hasPrefix("m.yaml:1:1: document too large once its aliases are expanded") == true, "\(got ?? "accepted")")
    }

    @Test func deepNestingIsRefusedBeforeParsing() {
        let flow = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(refusal("x: " + flow)?.hasPrefix("m.yaml:1: nested deeper than 64 levels") == true)
        // Block nesting: each level indented one more.
        let block = (0..<600).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n")
        #expect(refusal(block)?.contains("nested deeper than 64 levels") == true)
        // Brackets in quoted scalars and comments are text, not nesting.
        let quoted = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, annotations: {a: \"" + String(repeating: "[", count: 200) + "\"}} # " + String(repeating: "{", count: 200)
        #expect(refusal(quoted) == nil)
        // A quote inside a plain scalar opens nothing: the brackets after it still count.
        #expect(refusal("x: a\"b " + flow)?.contains("nested deeper than 64 levels") == true)
    }

    @Test func anOversizedFileIsRefused() {
        var limits = ManifestLimits()
        limits.maxBytes = 1 << 20
        #expect(refusal(String(repeating: "# padding\n", count: 200_000), limits: limits)?.contains("larger than 1 MiB") == true)
    }
}
