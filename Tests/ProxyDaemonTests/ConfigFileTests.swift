import ProxyDaemon
import ProxyModel
import Testing

@Suite struct ConfigFileTests {
    @Test func smallestConfigGetsDefaults() throws {
        let config = try ProxyConfig.parse(yaml: """
        mode: userspace
        source: file
        manifests: ./services.yaml
        nodePortAddresses: ["127.0.0.1"]
        """, file: "config.yaml")
        #expect(config.mode == .userspace)
        #expect(config.manifests == "./services.yaml")
        #expect(config.nodePortAddresses == [CIDR("127.0.0.1/32")!])
        #expect(config.minSyncPeriod == .seconds(1))
        #expect(config.syncPeriod == .seconds(30))
        #expect(config.metricsBindAddress == "127.0.0.1:10249")
        #expect(config.userspace.dialTimeout == .milliseconds(250))
        #expect(config.userspace.redirects)
        #expect(config.userspace.proxyPortRange == 61000...65535)
    }

    @Test func everyKeyIsRead() throws {
        let config = try ProxyConfig.parse(yaml: """
        manifests: /etc/skp/services
        nodePortAddresses: 10.0.0.0/8,::1
        hostnameOverride: Node-1
        clusterCIDR: [10.244.0.0/16]
        masqueradeAll: true
        minSyncPeriod: 250ms
        syncPeriod: 1m30s
        metricsBindAddress: "[::1]:9999"
        healthzBindAddress: 0.0.0.0:10256
        endpointsSource: endpoints
        serviceProxyName: swift-kube-proxy
        masqueradeBit: 5
        endpointPick: random
        iptablesVariant: legacy
        userspace:
          eventLoops: 3
          dialTimeout: 2s
          tcpIdleTimeout: 10m
          udpFlowTimeout: 5s
          pipeSize: 131072
          bufferSize: 16384
          redirects: false
          proxyPortRange: 40000-40999
        """, file: "c.yaml")
        #expect(config.nodePortAddresses.map(\.description) == ["10.0.0.0/8", "::1/128"])
        #expect(config.minSyncPeriod == .milliseconds(250))
        #expect(config.syncPeriod == .seconds(90))
        #expect(config.masqueradeAll)
        #expect(config.clusterCIDRs.map(\.description) == ["10.244.0.0/16"])
        #expect(config.endpointsSource == .endpoints)
        #expect(config.masqueradeBit == 5)
        #expect(config.endpointPick == .random)
        #expect(config.iptablesVariant == .legacy)
        #expect(config.userspace.eventLoops == 3)
        #expect(config.userspace.tcpIdleTimeout == .seconds(600))
        #expect(config.userspace.pipeSize == 131_072)
        #expect(!config.userspace.redirects)
        #expect(config.userspace.proxyPortRange == 40000...40999)
    }

    /// Each bad config names file, line and key.
    @Test(arguments: [
        ("manifests: a.yaml\nmodee: userspace\n", "c.yaml:2:1: modee: unknown key"),
        ("manifests: a.yaml\nuserspace:\n  dialTimeout: soon\n", "c.yaml:3:16: userspace.dialTimeout: expected a duration"),
        ("manifests: a.yaml\nuserspace:\n  eventLoops: many\n", "c.yaml:3:15: userspace.eventLoops: expected an integer"),
        ("manifests: a.yaml\nuserspace:\n  colour: blue\n", "c.yaml:3:3: userspace.colour: unknown key"),
        ("manifests: a.yaml\nuserspace:\n  proxyPortRange: 61000\n", "c.yaml:3:19: userspace.proxyPortRange: expected a port range such as 61000-65535"),
        ("manifests: a.yaml\nuserspace:\n  proxyPortRange: 65000-61000\n", "c.yaml:3:19: userspace.proxyPortRange: 65000-61000 is not a range of ports"),
        ("manifests: a.yaml\nuserspace:\n  proxyPortRange: 0-100\n", "c.yaml:3:19: userspace.proxyPortRange: 0-100 is not a range of ports"),
        ("manifests: a.yaml\nuserspace:\n  redirects: maybe\n", "c.yaml:3:14: userspace.redirects: expected true or false"),
        ("manifests: a.yaml\nmasqueradeAll: sometimes\n", "c.yaml:2:16: masqueradeAll: expected true or false"),
        ("manifests: a.yaml\nnodePortAddresses: [10.0.0.0/40]\n", "c.yaml:2:21: nodePortAddresses: \"10.0.0.0/40\" is not"),
        ("manifests: a.yaml\nmode: ipvs\n", "c.yaml:2:7: mode: \"ipvs\" is not one of userspace, nftables, iptables"),
        ("manifests: a.yaml\nmasqueradeBit: 32\n", "c.yaml:2:16: masqueradeBit: 32 is not within 0...31"),
        ("manifests: a.yaml\niptablesVariant: both\n", "c.yaml:2:18: iptablesVariant: \"both\" is not one of auto, nft, legacy"),
        ("source: file\n", "c.yaml:1:1: manifests: required with source: file"),
        ("manifests: a.yaml\nsyncPeriod: 0s\n", "c.yaml:2:13: syncPeriod: must be greater than 0"),
        ("manifests: [a\n", "c.yaml:2:1: YAML:"),
        ("- a\n- b\n", "c.yaml:1:1: expected a mapping of keys"),
    ])
    func badConfigNamesFileLineAndKey(_ yaml: String, _ expected: String) {
        do {
            _ = try ProxyConfig.parse(yaml: yaml, file: "c.yaml")
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect(error.description.hasPrefix(expected), "\(error.description)")
        }
    }

    @Test func goDurations() {
        #expect(GoDuration.parse("1m30s") == .seconds(90))
        #expect(GoDuration.parse("250ms") == .milliseconds(250))
        #expect(GoDuration.parse("1.5h") == .seconds(5400))
        #expect(GoDuration.parse("0") == .zero)
        #expect(GoDuration.parse("10") == nil)
        #expect(GoDuration.parse("-1s") == nil)
        #expect(GoDuration.parse("1d") == nil)
        #expect(GoDuration.format(.seconds(90)) == "1m30s")
        #expect(GoDuration.format(.milliseconds(250)) == "250ms")
    }
}
