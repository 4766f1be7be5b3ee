@testable import ProxyDaemon
import Logging
import ProxyModel
import Testing

/// `nodePortAddresses: primary` in both config formats and the flag, the node IP overrides, and
/// the default of each mode (issue #10, item 5).
@Suite struct NodePortAddressesConfigTests {
    func ours(_ yaml: String) throws(ConfigError) -> ProxyConfig { try ProxyConfig.parse(yaml: "manifests: a.yaml\n" + yaml, file: "c.yaml") }

    func kubeProxy(_ yaml: String, version: String = "v1alpha1") throws(ConfigError) -> ProxyConfig {
        try KubeProxyConfiguration.parse(yaml: "apiVersion: kubeproxy.config.k8s.io/\(version)\nkind: KubeProxyConfiguration\n" + yaml, file: "kp.yaml")
    }

    @Test func primaryIsAcceptedAsAListOrAStringInOurConfig() throws {
        for yaml in ["nodePortAddresses: [primary]\n", "nodePortAddresses: primary\n", "nodePortAddresses:\n  - primary\n"] {
            let config = try ours(yaml)
            #expect(config.nodePortAddressesPrimary == true, "\(yaml)")
            #expect(config.nodePortAddresses.isEmpty)
            #expect(config.servesNodePortsOnPrimary)
        }
    }

    @Test func primaryIsAcceptedInAKubeProxyConfiguration() throws {
        let config = try kubeProxy("mode: iptables\nnodePortAddresses: [primary]\n")
        #expect(config.servesNodePortsOnPrimary)
        #expect(config.ruleSyncConfig.nodePortAddressesPrimary)
    }

    /// Upstream's validation: "can't use both 'primary' and CIDRs", at the entry that says primary.
    @Test(arguments: [
        ("nodePortAddresses: [primary, 10.0.0.0/8]\n", "c.yaml:3:21: nodePortAddresses: can't use both 'primary' and CIDRs"),
        ("nodePortAddresses:\n  - 10.0.0.0/8\n  - primary\n", "c.yaml:5:5: nodePortAddresses: can't use both 'primary' and CIDRs"),
        ("nodePortAddresses: primary,10.0.0.0/8\n", "c.yaml:3:20: nodePortAddresses: can't use both 'primary' and CIDRs"),
        ("nodePortAddresses: [primary, all]\n", "c.yaml:3:21: nodePortAddresses: can't use both 'primary' and CIDRs"),
        ("nodePortAddresses: [primaryy]\n", "c.yaml:3:21: nodePortAddresses: \"primaryy\" is not a CIDR or a keyword"),
        ("nodeIPOverride: [10.0.0.1, 10.0.0.2]\n", "c.yaml:3:28: nodeIPOverride: one address per family"),
        ("nodeIPOverride: [10.0.0.0/8]\n", "c.yaml:3:18: nodeIPOverride: \"10.0.0.0/8\" is not an IP address"),
    ])
    func invalidValuesNameFileLineAndKey(_ yaml: String, _ expected: String) {
        do {
            _ = try ProxyConfig.parse(yaml: "manifests: a.yaml\nmode: nftables\n" + yaml, file: "c.yaml")
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect("\(error)".hasPrefix(expected), "\(error)")
        }
    }

    @Test func aKubeProxyConfigurationRefusesPrimaryBesideCIDRsToo() {
        do {
            _ = try kubeProxy("nodePortAddresses: [\"10.0.0.0/8\", primary]\n")
            Issue.record("accepted")
        } catch {
            #expect("\(error)".contains("nodePortAddresses: can't use both 'primary' and CIDRs"), "\(error)")
            #expect(error.line == 3)
        }
    }

    /// Unset (or an empty list, as upstream) is `primary` in nftables mode only; `all` and a CIDR
    /// list are what they say in every mode.
    @Test func theDefaultDependsOnTheMode() throws {
        #expect(try ours("mode: nftables\n").servesNodePortsOnPrimary)
        #expect(try ours("mode: nftables\nnodePortAddresses: []\n").servesNodePortsOnPrimary)
        #expect(try !ours("mode: iptables\n").servesNodePortsOnPrimary)
        #expect(try !ours("mode: userspace\n").servesNodePortsOnPrimary)
        #expect(try !ours("mode: nftables\nnodePortAddresses: all\n").servesNodePortsOnPrimary)
        #expect(try !ours("mode: nftables\nnodePortAddresses: [192.168.0.0/16]\n").servesNodePortsOnPrimary)
        #expect(try ours("mode: iptables\nnodePortAddresses: primary\n").servesNodePortsOnPrimary)

        #expect(try kubeProxy("mode: nftables\n").servesNodePortsOnPrimary)
        #expect(try kubeProxy("mode: nftables\nnodePortAddresses: null\n").servesNodePortsOnPrimary)
        #expect(try !kubeProxy("mode: iptables\n").servesNodePortsOnPrimary)
        #expect(try !kubeProxy("mode: \"\"\n").servesNodePortsOnPrimary)
        #expect(try !kubeProxy("mode: nftables\nnodePortAddresses: [0.0.0.0/0, \"::/0\"]\n").servesNodePortsOnPrimary)
    }

    /// The mode may come from `--proxy-mode` after the file is read: the default follows it.
    @Test func theFlagsSetPrimaryAndTheModeDefaultFollowsTheFlagMode() throws {
        var config = try ours("")
        var flags = CommandLineOverrides()
        flags.proxyMode = "nftables"
        try flags.apply(to: &config)
        #expect(config.servesNodePortsOnPrimary)

        flags.nodePortAddresses = "10.0.0.0/8"
        try flags.apply(to: &config)
        #expect(!config.servesNodePortsOnPrimary)
        #expect(config.nodePortAddresses == [CIDR("10.0.0.0/8")!])

        flags.proxyMode = "iptables"
        flags.nodePortAddresses = "primary"
        flags.bindAddress = "10.1.2.3"
        try flags.apply(to: &config)
        #expect(config.servesNodePortsOnPrimary)
        #expect(config.nodeIPOverride == [IPAddress("10.1.2.3")!])
        flags.bindAddress = "0.0.0.0"
        try flags.apply(to: &config)
        #expect(config.nodeIPOverride == [])
        flags.bindAddress = "node-1"
        #expect(throws: ConfigError.self) { try flags.apply(to: &config) }
    }

    @Test func nodeIPOverridesInBothFormats() throws {
        #expect(try ours("nodeIPOverride: [192.168.1.5, \"fd00::5\"]\n").nodeIPOverride == [IPAddress("192.168.1.5")!, IPAddress("fd00::5")!])
        #expect(try ours("nodeIPOverride: 0.0.0.0\n").nodeIPOverride == [])
        let v2 = try kubeProxy("nodeIPOverride: [\"fd00::7\"]\n", version: "v1alpha2")
        #expect(v2.nodeIPOverride == [IPAddress("fd00::7")!])
        #expect(v2.warnings == [])
        #expect(try kubeProxy("bindAddress: 0.0.0.0\n").nodeIPOverride == [])
        #expect(try kubeProxy("bindAddress: 10.1.2.3\n").ruleSyncConfig.nodeIPOverride == [IPAddress("10.1.2.3")!])
    }

    /// Resolved once for the parts that take addresses at start, and described for the log.
    @Test func primaryResolvedForTheStartAndTheLog() throws {
        let node = NodeInfo(name: "n", addresses: [IPAddress("10.0.0.9")!, IPAddress("192.168.1.5")!, IPAddress("fd00::5")!],
                            primaryAddresses: [IPAddress("192.168.1.5")!])
        let config = try ours("mode: nftables\n")
        #expect(config.nodePortAddresses(resolvedFor: node) == [CIDR("192.168.1.5/32")!])
        #expect(config.nodePortAddressesDescription(node: node, families: [.ipv4, .ipv6])
            == "primary (nftables mode's default): IPv4: 192.168.1.5/32; IPv6: every local address")
        let overridden = try ours("mode: nftables\nnodeIPOverride: [10.0.0.9]\n")
        #expect(overridden.nodePortAddresses(resolvedFor: node) == [CIDR("10.0.0.9/32")!])
        let all = try ours("mode: iptables\n")
        #expect(all.nodePortAddresses(resolvedFor: node) == [])
        #expect(all.nodePortAddressesDescription(node: node, families: [.ipv4]) == "nodePortAddresses: IPv4: every local address")
    }

    /// A Node update that moves the primary address is logged; one that does not, is not.
    @Test func aMovedPrimaryAddressIsLogged() throws {
        let log = NodePortAddressLog(config: try ours("mode: nftables\n"), startNode: NodeInfo(name: "n"), families: [.ipv4], logger: .init(label: "t"))
        let node = NodeInfo(name: "n", addresses: [IPAddress("10.0.0.1")!])
        #expect(log.change(from: node, to: NodeInfo(name: "n", addresses: [IPAddress("10.0.0.2")!, IPAddress("10.0.0.1")!]))
            == "NodePorts are now served on primary (nftables mode's default): IPv4: 10.0.0.2/32")
        #expect(log.change(from: node, to: NodeInfo(name: "n", addresses: [IPAddress("10.0.0.1")!, IPAddress("10.0.0.2")!])) == nil)
        let iptables = NodePortAddressLog(config: try ours("mode: iptables\n"), startNode: node, families: [.ipv4], logger: .init(label: "t"))
        #expect(iptables.change(from: node, to: NodeInfo(name: "n", addresses: [IPAddress("10.0.0.2")!])) == nil)
    }

    @Test func configzShowsTheKeywordAsKubeProxyDoes() throws {
        #expect(ConfigzBody.configz(try ours("mode: nftables\n")).body.contains("\"nodePortAddresses\":[\"primary\"]"))
        #expect(ConfigzBody.configz(try ours("mode: iptables\n")).body.contains("\"nodePortAddresses\":[]"))
    }
}
