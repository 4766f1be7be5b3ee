import ProxyModel

/// Everything the daemon can be told, with kube-proxy's names where one exists. Each field's
/// default is the one kube-proxy (or, for userspace tuning, our measurements) settled on.
public struct ProxyConfig: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable { case userspace, nftables, iptables }
    public enum Source: String, Sendable, CaseIterable { case file, kubernetes }
    public enum EndpointsSource: String, Sendable, CaseIterable { case endpointslices, endpoints }
    public enum IPTablesVariant: String, Sendable, CaseIterable { case auto, nft, legacy }
    public enum EndpointPick: String, Sendable, CaseIterable { case roundRobin, random }

    /// Tuning of the userspace proxy's event loops and relays.
    public struct Userspace: Sendable, Equatable {
        /// 0: one event loop per core.
        public var eventLoops = 0
        public var dialTimeout: Duration = .milliseconds(250)
        /// A TCP relay with no bytes either way for this long is closed.
        public var tcpIdleTimeout: Duration = .seconds(3600)
        /// A UDP flow (client ↔ backend) with no datagram for this long is forgotten.
        public var udpFlowTimeout: Duration = .seconds(30)
        /// UDP flows of one listening address in one event loop; the least recently active is evicted beyond.
        public var maxUDPFlowsPerRule = 4_096
        /// UDP flows of one event loop in all; a new client beyond evicts its own rule's oldest flow.
        public var maxUDPFlowsPerLoop = 16_384
        /// Bytes of each splice pipe (rounded by the kernel to pages).
        public var pipeSize = 65_536
        /// Bytes of each copy buffer, where splice cannot be used (UDP, fallbacks).
        public var bufferSize = 16_384
        /// ClusterIP and ExternalIP traffic is redirected by nftables (needs CAP_NET_ADMIN) to a
        /// local listener per Service port, as kube-proxy's userspace mode did; false: NodePorts only.
        public var redirects = true
        /// The ports of those listeners (kube-proxy's `--proxy-port-range`). The default lies above
        /// the kernel's default ephemeral range (32768–60999) and the NodePort range (30000–32767).
        public var proxyPortRange: ClosedRange<Int> = 61000...65535
        public init() {}
    }

    public var mode: Mode = .userspace
    public var source: Source = .file
    /// A YAML file or a directory of Service + EndpointSlice manifests (`source: file`).
    public var manifests: String?
    /// Where NodePorts are served: addresses or CIDRs matching node addresses; empty: all of them
    /// (unless `servesNodePortsOnPrimary`).
    public var nodePortAddresses: [CIDR] = []
    /// `nodePortAddresses: [primary]`: true; CIDRs or `all` written: false; nil: not set, so the mode
    /// decides (primary in nftables mode, as kube-proxy). Read `servesNodePortsOnPrimary`.
    public var nodePortAddressesPrimary: Bool?
    /// kube-proxy's node IP override (v1alpha1 `bindAddress`, v1alpha2 `nodeIPOverride`): at most one
    /// address per family, each the node's primary address of its family.
    public var nodeIPOverride: [IPAddress] = []
    /// The Node's name (`source: kubernetes` reads that Node); default: the hostname.
    public var hostnameOverride: String?
    /// Pod network ranges; traffic from outside them is masqueraded (rule backends).
    public var clusterCIDRs: [CIDR] = []
    public var masqueradeAll = false
    /// Service ClusterIP ranges (`--service-cluster-ip-range`): nftables mode drops traffic to unallocated addresses in them.
    public var serviceCIDRs: [CIDR] = []
    /// The fwmark bit rule backends use to flag packets for masquerade (kube-proxy's default 14).
    public var masqueradeBit = 14
    /// Rule backends: the next endpoint in turn, or one at random.
    public var endpointPick: EndpointPick = .roundRobin
    /// `mode: iptables`: which iptables to program; auto picks the one that already holds rules.
    public var iptablesVariant: IPTablesVariant = .auto
    /// `mode: iptables`: IPv4 NodePorts also answer on 127.0.0.1 (kube-proxy's
    /// `iptables.localhostNodePorts`, default true); sets `route_localnet=1` on the node.
    public var localhostNodePorts = true
    public var minSyncPeriod: Duration = .seconds(1)
    public var syncPeriod: Duration = .seconds(30)
    public var metricsBindAddress = "127.0.0.1:10249"
    public var healthzBindAddress = "0.0.0.0:10256"
    public var kubeconfig: String?
    public var endpointsSource: EndpointsSource = .endpointslices
    /// Our `service.kubernetes.io/service-proxy-name`: Services labelled with another are ignored.
    public var serviceProxyName: String?
    public var userspace = Userspace()
    /// Conntrack sysctls to set at start-up, as kube-proxy does; nil leaves the node's as they are
    /// (our own config format, which has no such section).
    public var conntrack: ConntrackSettings?
    /// What loading the file found worth telling but not refusing (fields of a KubeProxyConfiguration
    /// we do not implement); logged once at start-up.
    public var warnings: [String] = []
    /// Read from a `KubeProxyConfiguration`: kube-proxy's rule that `--config` wins over most flags holds.
    public var isKubeProxyConfiguration = false

    public init() {}

    /// NodePorts on the node's primary address of each family: asked for, or left unset in nftables
    /// mode (kube-proxy's default there; iptables and userspace keep every local address).
    public var servesNodePortsOnPrimary: Bool {
        nodePortAddressesPrimary ?? (mode == .nftables && nodePortAddresses.isEmpty)
    }
}
