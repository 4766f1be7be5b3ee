import EndToEndSupport
import Foundation
import Testing

/// `swift-kube-proxy render` prints what a rule mode would send, for the config's manifests,
/// without touching the kernel.
@Suite struct RenderCommandTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test func renderPrintsTheRulesOfEitherRuleMode() throws {
        let config = Self.root + "/config.example.yaml"
        let (nftStatus, nft) = try runProgram([ProxyProcess.binary, "render", "--config", config, "--proxy-mode", "nftables"])
        #expect(nftStatus == 0, "\(nft)")
        #expect(nft.contains("add chain ip swift-kube-proxy filter-input { type filter hook input priority 0; policy accept; }"))
        #expect(nft.contains(#"comment "default/web:http""#))
        let (iptStatus, ipt) = try runProgram([ProxyProcess.binary, "render", "--config", config, "--proxy-mode", "iptables"])
        #expect(iptStatus == 0, "\(ipt)")
        #expect(ipt.contains("*nat") && ipt.contains("-A SKP-SERVICES") && ipt.contains("COMMIT"))
        let (userspaceStatus, userspace) = try runProgram([ProxyProcess.binary, "render", "--config", config])
        #expect(userspaceStatus != 0 && userspace.contains("mode userspace has none"))
    }
}
