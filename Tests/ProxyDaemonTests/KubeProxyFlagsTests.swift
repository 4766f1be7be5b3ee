@testable import ProxyDaemon
import Testing

@Suite struct KubeProxyFlagsTests {
    @Test func kubeProxysOtherFlagsAreTakenAndNamed() throws {
        let ignored = try KubeProxyFlags.ignored(in: ["--conntrack-max-per-core=0", "--oom-score-adj", "-999", "--profiling", "--feature-gates", "A=true"])
        #expect(ignored == ["--conntrack-max-per-core=0", "--oom-score-adj -999", "--profiling", "--feature-gates A=true"])
    }

    @Test func anythingElseIsAnError() {
        #expect(throws: KubeProxyFlags.Unknown.self) { try KubeProxyFlags.ignored(in: ["--proxy-mdoe=iptables"]) }
        #expect(throws: KubeProxyFlags.Unknown.self) { try KubeProxyFlags.ignored(in: ["stray"]) }
    }
}
