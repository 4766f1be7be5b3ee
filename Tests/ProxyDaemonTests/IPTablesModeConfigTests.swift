@testable import ProxyDaemon
import ProxyModel
import Testing

/// `iptables.localhostNodePorts` in both config formats, and `nodePortAddresses` per family in the
/// userspace mode (issue 11).
@Suite struct IPTablesModeConfigTests {
    @Test func localhostNodePortsDefaultsOnInIPTablesModeOnly() throws {
        let config = try ProxyConfig.parse(yaml: "mode: iptables\nmanifests: s.yaml\n", file: "c.yaml")
        #expect(config.localhostNodePorts)
        #expect(config.ruleSyncConfig.localhostNodePorts)
        var nft = config
        nft.mode = .nftables
        // nftables never serves loopback, as upstream's nftables mode.
        #expect(!nft.ruleSyncConfig.localhostNodePorts)
    }

    @Test func ourConfigFileTakesItUnderIPTables() throws {
        let config = try ProxyConfig.parse(yaml: "mode: iptables\nmanifests: s.yaml\niptables:\n  localhostNodePorts: false\n", file: "c.yaml")
        #expect(!config.localhostNodePorts)
        #expect(!config.ruleSyncConfig.localhostNodePorts)
        #expect(throws: ConfigError.self) {
            try ProxyConfig.parse(yaml: "mode: iptables\nmanifests: s.yaml\niptables:\n  localhostNodePort: false\n", file: "c.yaml")
        }
    }

    @Test func kubeProxyConfigurationSetsIt() throws {
        let config = try KubeProxyConfiguration.parse(yaml: """
        apiVersion: kubeproxy.config.k8s.io/v1alpha1
        kind: KubeProxyConfiguration
        mode: iptables
        iptables:
          localhostNodePorts: false
        """, file: "kp.yaml")
        #expect(!config.localhostNodePorts)
        #expect(config.warnings.isEmpty)
        let kubeadm = try KubeProxyConfiguration.parse(yaml: KubeadmFixture.kubeProxyConfigMap, file: "kube-proxy.yaml")
        #expect(kubeadm.localhostNodePorts)   // `localhostNodePorts: null`: kube-proxy's default, true
    }

    @Test func userspaceNodePortAddressesApplyPerFamily() {
        let addresses = ["127.0.0.1", "192.168.1.5", "10.0.0.5", "::1", "fd00::5"].map { IPAddress($0)! }
        // Only an IPv6 prefix: every IPv4 address still serves, as upstream.
        #expect(NodePortAddresses.select([CIDR("fd00::/64")!], from: addresses).map(\.description)
            == ["127.0.0.1", "192.168.1.5", "10.0.0.5", "fd00::5"])
        #expect(NodePortAddresses.select([CIDR("10.0.0.0/8")!], from: addresses).map(\.description) == ["10.0.0.5", "::1", "fd00::5"])
        #expect(NodePortAddresses.select([], from: addresses) == addresses)
    }
}
