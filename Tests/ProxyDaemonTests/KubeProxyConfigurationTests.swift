@testable import ProxyDaemon
import ProxyModel
import Testing

/// An upstream KubeProxyConfiguration as a drop-in `--config`.
@Suite struct KubeProxyConfigurationTests {
    /// kubeadm's file runs as kube-proxy runs it: iptables mode, kube-proxy's defaults for every
    /// zero value, conntrack sysctls at kube-proxy's defaults, and nothing to warn about.
    @Test func kubeadmsFileLoadsWithKubeProxysEffectiveSettings() throws {
        let config = try KubeProxyConfiguration.parse(yaml: KubeadmFixture.kubeProxyConfigMap, file: "kube-proxy.yaml")
        #expect(config.source == .kubernetes)
        #expect(config.mode == .iptables)
        #expect(config.kubeconfig == "/var/lib/kube-proxy/kubeconfig.conf")
        #expect(config.clusterCIDRs == [CIDR("10.244.0.0/16")!, CIDR("fd00:10:244::/56")!])
        #expect(config.metricsBindAddress == "127.0.0.1:10249")
        #expect(config.healthzBindAddress == "0.0.0.0:10256")
        #expect(config.syncPeriod == .seconds(30))
        #expect(config.minSyncPeriod == .seconds(1))
        #expect(config.masqueradeBit == 14)
        #expect(!config.masqueradeAll)
        #expect(config.nodePortAddresses.isEmpty)
        #expect(config.conntrack == ConntrackSettings())
        #expect(config.conntrack?.maxPerCore == 32768 && config.conntrack?.min == 131072)
        #expect(config.conntrack?.tcpEstablishedTimeout == .seconds(86400) && config.conntrack?.tcpCloseWaitTimeout == .seconds(3600))
        #expect(config.warnings == [])
    }

    /// kube-proxy's defaulting: 0s periods are 30s and 1s, in whichever section the mode reads.
    @Test(arguments: ["iptables", "nftables"])
    func zeroPeriodsTakeKubeProxysDefaults(_ mode: String) throws {
        let config = try KubeProxyConfiguration.parse(yaml: """
        apiVersion: kubeproxy.config.k8s.io/v1alpha1
        kind: KubeProxyConfiguration
        mode: \(mode)
        \(mode):
          minSyncPeriod: 0s
          syncPeriod: 0s
        """, file: "kp.yaml")
        #expect(config.minSyncPeriod == .seconds(1))
        #expect(config.syncPeriod == .seconds(30))
    }

    /// A bind address without a port gets kube-proxy's; an IPv6 bindAddress makes the defaults IPv6.
    @Test func bindAddressesWithoutPortsAndAnIPv6BindAddress() throws {
        let bare = try KubeProxyConfiguration.parse(yaml: """
        kind: KubeProxyConfiguration
        healthzBindAddress: 10.0.0.5
        metricsBindAddress: "::1"
        """, file: "kp.yaml")
        #expect(bare.healthzBindAddress == "10.0.0.5:10256")
        #expect(bare.metricsBindAddress == "[::1]:10249")
        let v6 = try KubeProxyConfiguration.parse(yaml: "kind: KubeProxyConfiguration\nbindAddress: \"::\"\n", file: "kp.yaml")
        #expect(v6.healthzBindAddress == "[::]:10256")
        #expect(v6.metricsBindAddress == "[::1]:10249")
        #expect(v6.warnings == [])
        // A specific bindAddress is kube-proxy's node IP override: the primary address of its family.
        let node = try KubeProxyConfiguration.parse(yaml: "kind: KubeProxyConfiguration\nbindAddress: 192.168.1.5\n", file: "kp.yaml")
        #expect(node.healthzBindAddress == "0.0.0.0:10256")
        #expect(node.nodeIPOverride == [IPAddress("192.168.1.5")!])
        #expect(node.warnings == [])
        #expect(v6.nodeIPOverride == [])
    }

    @Test func theConntrackSectionIsReadWithKubeProxysDefaulting() throws {
        let config = try KubeProxyConfiguration.parse(yaml: """
        kind: KubeProxyConfiguration
        conntrack:
          maxPerCore: 0
          min: null
          tcpEstablishedTimeout: 2h
          tcpCloseWaitTimeout: 0s
          tcpBeLiberal: true
          udpTimeout: 30s
          udpStreamTimeout: 2m
        """, file: "kp.yaml")
        var expected = ConntrackSettings()
        expected.maxPerCore = 0
        expected.tcpEstablishedTimeout = .seconds(7200)
        expected.tcpCloseWaitTimeout = .zero
        expected.tcpBeLiberal = true
        expected.udpTimeout = .seconds(30)
        expected.udpStreamTimeout = .seconds(120)
        #expect(config.conntrack == expected)
    }

    /// v1alpha2: top-level sync periods, `linux.*`, bind address lists with their ports.
    @Test func v1alpha2Loads() throws {
        let config = try KubeProxyConfiguration.parse(yaml: """
        apiVersion: kubeproxy.config.k8s.io/v1alpha2
        kind: KubeProxyConfiguration
        mode: nftables
        syncPeriod: 1m
        minSyncPeriod: 0s
        healthzBindAddresses: ["0.0.0.0/0", "::/0"]
        healthzBindPort: 10266
        metricsBindAddresses: ["127.0.0.0/8", "::1/128"]
        linux:
          masqueradeAll: true
          oomScoreAdj: -999
          conntrack:
            maxPerCore: 2
            min: 1
        nftables:
          masqueradeBit: 18
        detectLocal:
          clusterCIDRs: [10.244.0.0/16]
        """, file: "kp.yaml")
        #expect(config.mode == .nftables)
        #expect(config.syncPeriod == .seconds(60))
        #expect(config.minSyncPeriod == .seconds(1))
        #expect(config.healthzBindAddress == "[::]:10266")
        #expect(config.metricsBindAddress == "127.0.0.1:10249")
        #expect(config.masqueradeAll)
        #expect(config.masqueradeBit == 18)
        #expect(config.conntrack?.maxPerCore == 2 && config.conntrack?.min == 1)
        #expect(config.clusterCIDRs == [CIDR("10.244.0.0/16")!])
        #expect(config.warnings == [])
        // Decoded strictly, as kube-proxy does v1alpha2.
        let typo = #expect(throws: ConfigError.self) {
            try KubeProxyConfiguration.parse(yaml: "apiVersion: kubeproxy.config.k8s.io/v1alpha2\nkind: KubeProxyConfiguration\nfoo: bar\n", file: "kp.yaml")
        }
        #expect(typo?.description == "kp.yaml:3:1: foo: unknown key")
    }

    @Test func theModesSectionCarriesMasqueradingAndSyncPeriods() throws {
        let config = try KubeProxyConfiguration.parse(yaml: """
        apiVersion: kubeproxy.config.k8s.io/v1alpha1
        kind: KubeProxyConfiguration
        mode: nftables
        hostnameOverride: node-7
        metricsBindAddress: 0.0.0.0:10249
        healthzBindAddress: "[::]:10256"
        nodePortAddresses: [192.168.0.0/16, localhost]
        iptables:
          masqueradeAll: false
          syncPeriod: 1m
        nftables:
          masqueradeAll: true
          masqueradeBit: 15
          minSyncPeriod: 2s
          syncPeriod: 45s
        """, file: "kp.yaml")
        #expect(config.mode == .nftables)
        #expect(config.hostnameOverride == "node-7")
        #expect(config.metricsBindAddress == "0.0.0.0:10249")
        #expect(config.healthzBindAddress == "[::]:10256")
        #expect(config.nodePortAddresses == [CIDR("192.168.0.0/16")!, CIDR("127.0.0.0/8")!, CIDR("::1/128")!])
        #expect(config.masqueradeAll)
        #expect(config.masqueradeBit == 15)
        #expect(config.minSyncPeriod == .seconds(2))
        #expect(config.syncPeriod == .seconds(45))
    }

    /// Fields we do not implement are named, each with its line, in one warning; the file loads.
    @Test func eachUnimplementedFieldIsNamedInOneWarning() throws {
        let config = try KubeProxyConfiguration.parse(yaml: """
        apiVersion: kubeproxy.config.k8s.io/v1alpha1
        kind: KubeProxyConfiguration
        mode: iptables
        ipvs:
          scheduler: rr
        oomScoreAdj: -999
        featureGates:
          SomeGate: true
        iptables:
          localhostNodePorts: true
        clientConnection:
          qps: 50
          burst: 10
        masqueradAll: true
        """, file: "kp.yaml")
        #expect(config.mode == .iptables)
        #expect(config.warnings.count == 1)
        let text = config.warnings.first ?? ""
        #expect(text.hasPrefix("kp.yaml: set but not implemented by swift-kube-proxy, so ignored: "))
        #expect(text.contains("ipvs.scheduler (line 5)"))
        #expect(text.contains("featureGates.SomeGate (line 8)"))
        #expect(!text.contains("localhostNodePorts"))   // implemented (docs/iptables.md)
        #expect(config.localhostNodePorts)
        #expect(text.contains("clientConnection.qps (line 12)"))
        #expect(!text.contains("oomScoreAdj"))   // kube-proxy's own default
        #expect(!text.contains("burst"))
        // An unknown field: kube-proxy decodes v1alpha1 leniently, so a warning too.
        #expect(text.contains("unknown fields, ignored as kube-proxy's lenient v1alpha1 decoding does: masqueradAll (line 14)"))
    }

    @Test func aModeWeCannotRunAndAnotherVersionAreRefused() {
        let mode = #expect(throws: ConfigError.self) {
            try KubeProxyConfiguration.parse(yaml: "kind: KubeProxyConfiguration\nmode: ipvs\n", file: "kp.yaml")
        }
        #expect(mode?.description.hasPrefix("kp.yaml:2:1: mode: \"ipvs\" is not supported") == true)
        let version = #expect(throws: ConfigError.self) {
            try KubeProxyConfiguration.parse(yaml: "apiVersion: kubeproxy.config.k8s.io/v1beta9\nkind: KubeProxyConfiguration\n", file: "kp.yaml")
        }
        #expect(version?.key == "apiVersion")
    }

    @Test func loadingDetectsItAndValidatesAsOurOwnFile() throws {
        // The drop-in is recognised by its apiVersion/kind and becomes a Kubernetes-source config.
        let config = try ProxyConfig.parse(yaml: KubeadmFixture.kubeProxyConfigMap, file: "kp.yaml")
        #expect(config.source == .kubernetes)
        #expect(config.kubeconfig == "/var/lib/kube-proxy/kubeconfig.conf")
    }

    /// kube-proxy with `--config`: the file wins over every flag but `--hostname-override` (and logging);
    /// we also take `--metrics-bind-address` (the DaemonSet's per-node address).
    @Test func aKubeProxyConfigurationWinsOverFlagsButTheHostname() throws {
        var config = try ProxyConfig.parse(yaml: KubeadmFixture.kubeProxyConfigMap, file: "kp.yaml")
        let before = config
        var flags = CommandLineOverrides()
        flags.hostnameOverride = "node-9"
        flags.proxyMode = "userspace"
        flags.clusterCIDR = "10.244.0.0/16"
        flags.masqueradeAll = true
        flags.metricsBindAddress = "192.0.2.7:10249"
        let ignored = try flags.apply(to: &config)
        #expect(ignored == ["--proxy-mode", "--cluster-cidr", "--masquerade-all"])
        #expect(config.hostnameOverride == "node-9")
        #expect(config.metricsBindAddress == "192.0.2.7:10249")
        #expect(config.mode == before.mode && config.clusterCIDRs == before.clusterCIDRs && config.masqueradeAll == before.masqueradeAll)
    }

    @Test func flagsOverrideTheFile() throws {
        var config = try ProxyConfig.parse(yaml: "manifests: ./m.yaml\n", file: "c.yaml")
        var flags = CommandLineOverrides()
        flags.hostnameOverride = "node-9"
        flags.clusterCIDR = "10.244.0.0/16"
        flags.metricsBindAddress = "0.0.0.0:10249"
        flags.healthzBindAddress = "127.0.0.1:10256"
        flags.nodePortAddresses = "127.0.0.1/32,::1"
        flags.masqueradeAll = true
        flags.proxyMode = "userspace"
        #expect(try flags.apply(to: &config) == [])
        #expect(config.hostnameOverride == "node-9")
        #expect(config.clusterCIDRs == [CIDR("10.244.0.0/16")!])
        #expect(config.metricsBindAddress == "0.0.0.0:10249")
        #expect(config.healthzBindAddress == "127.0.0.1:10256")
        #expect(config.nodePortAddresses == [CIDR("127.0.0.1/32")!, CIDR("::1/128")!])
        #expect(config.masqueradeAll)

        var bad = CommandLineOverrides()
        bad.clusterCIDR = "10.244.0.0/99"
        let error = #expect(throws: ConfigError.self) { try bad.apply(to: &config) }
        #expect(error?.description == "command line: --cluster-cidr: \"10.244.0.0/99\" is not an IP address or CIDR")
    }
}
