@testable import ProxyDaemon
import ProxyModel
import Testing

/// An upstream KubeProxyConfiguration as a drop-in `--config`.
@Suite struct KubeProxyConfigurationTests {
    /// What `kubeadm` writes into the kube-proxy ConfigMap: every field present, most of them empty.
    static let kubeadm = """
    apiVersion: kubeproxy.config.k8s.io/v1alpha1
    bindAddress: 0.0.0.0
    bindAddressHardFail: false
    clientConnection:
      acceptContentTypes: ""
      burst: 0
      contentType: ""
      kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
      qps: 0
    clusterCIDR: 10.244.0.0/16,fd00:10:244::/56
    configSyncPeriod: 0s
    conntrack:
      maxPerCore: null
      min: null
      tcpBeLiberal: false
      tcpCloseWaitTimeout: null
      tcpEstablishedTimeout: null
      udpStreamTimeout: 0s
      udpTimeout: 0s
    detectLocal:
      bridgeInterface: ""
      interfaceNamePrefix: ""
    detectLocalMode: ""
    enableProfiling: false
    healthzBindAddress: ""
    hostnameOverride: ""
    iptables:
      localhostNodePorts: null
      masqueradeAll: false
      masqueradeBit: null
      minSyncPeriod: 0s
      syncPeriod: 0s
    ipvs:
      excludeCIDRs: null
      minSyncPeriod: 0s
      scheduler: ""
      strictARP: false
      syncPeriod: 0s
      tcpFinTimeout: 0s
      tcpTimeout: 0s
      udpTimeout: 0s
    kind: KubeProxyConfiguration
    logging:
      flushFrequency: 0
      options:
        json:
          infoBufferSize: "0"
        text:
          infoBufferSize: "0"
      verbosity: 0
    metricsBindAddress: ""
    mode: ""
    nftables:
      masqueradeAll: false
      masqueradeBit: null
      minSyncPeriod: 0s
      syncPeriod: 0s
    nodePortAddresses: null
    oomScoreAdj: null
    portRange: ""
    showHiddenMetricsForVersion: ""
    winkernel:
      enableDSR: false
      forwardHealthCheckVip: false
      networkName: ""
      rootHnsEndpointName: ""
      sourceVip: ""
    """

    @Test func kubeadmsFileLoadsWithItsValuesMapped() throws {
        let config = try KubeProxyConfiguration.parse(yaml: Self.kubeadm, file: "kube-proxy.yaml")
        #expect(config.source == .kubernetes)
        #expect(config.mode == .userspace)
        #expect(config.kubeconfig == "/var/lib/kube-proxy/kubeconfig.conf")
        #expect(config.clusterCIDRs == [CIDR("10.244.0.0/16")!, CIDR("fd00:10:244::/56")!])
        #expect(config.metricsBindAddress == "127.0.0.1:10249")
        #expect(config.healthzBindAddress == "0.0.0.0:10256")
        #expect(config.syncPeriod == .seconds(30))
        #expect(config.nodePortAddresses.isEmpty)
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

    @Test func eachUnsupportedFieldIsNamedWithItsLine() throws {
        let error = #expect(throws: ConfigError.self) {
            try KubeProxyConfiguration.parse(yaml: """
            apiVersion: kubeproxy.config.k8s.io/v1alpha1
            kind: KubeProxyConfiguration
            mode: ipvs
            ipvs:
              scheduler: rr
            oomScoreAdj: -999
            featureGates:
              SomeGate: true
            """, file: "kp.yaml")
        }
        let text = error?.description ?? ""
        #expect(text.contains("kp.yaml:3:1: mode: \"ipvs\" is not supported"))
        #expect(text.contains("kp.yaml:5:3: ipvs.scheduler: not supported by swift-kube-proxy") || text.contains("kp.yaml:4:1: ipvs: not supported"))
        #expect(text.contains("kp.yaml:6:1: oomScoreAdj: not supported by swift-kube-proxy"))
        #expect(text.contains("kp.yaml:7:1: featureGates: not supported by swift-kube-proxy"))
    }

    @Test func aTypoIsAnUnknownKeyAndAnotherVersionIsRefused() {
        let typo = #expect(throws: ConfigError.self) {
            try KubeProxyConfiguration.parse(yaml: "kind: KubeProxyConfiguration\nmasqueradAll: true\n", file: "kp.yaml")
        }
        #expect(typo?.description == "kp.yaml:2:1: masqueradAll: unknown key")
        let version = #expect(throws: ConfigError.self) {
            try KubeProxyConfiguration.parse(yaml: "apiVersion: kubeproxy.config.k8s.io/v1beta9\nkind: KubeProxyConfiguration\n", file: "kp.yaml")
        }
        #expect(version?.key == "apiVersion")
    }

    @Test func loadingDetectsItAndValidatesAsOurOwnFile() throws {
        // The drop-in is recognised by its apiVersion/kind and becomes a Kubernetes-source config.
        let config = try ProxyConfig.parse(yaml: Self.kubeadm, file: "kp.yaml")
        #expect(config.source == .kubernetes)
        #expect(config.kubeconfig == "/var/lib/kube-proxy/kubeconfig.conf")
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
        try flags.apply(to: &config)
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
