import Foundation
@testable import ProxyDaemon
import ProxyModel
import Testing

@Suite struct ConfigzBodyTests {
    @Test func proxyModeAndConfigzAnswerAsKubeProxys() throws {
        var config = ProxyConfig()
        config.mode = .nftables
        config.clusterCIDRs = [CIDR("10.244.0.0/16")!]
        config.minSyncPeriod = .seconds(1)
        #expect(ConfigzBody.proxyMode(config).body == "nftables")
        let answer = ConfigzBody.configz(config)
        #expect(answer.status == 200 && answer.headers["Content-Type"] == "application/json")
        let object = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
        let fields = try #require(object?["kubeproxy.config.k8s.io"] as? [String: Any])
        #expect(fields["mode"] as? String == "nftables")
        #expect(fields["clusterCIDR"] as? String == "10.244.0.0/16")
        #expect((fields["nftables"] as? [String: Any])?["minSyncPeriod"] as? String == "1s")
    }
}
