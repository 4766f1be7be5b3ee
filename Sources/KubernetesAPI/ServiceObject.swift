/// `v1/Service`, the fields kube-proxy reads.
public struct ServiceObject: Codable, Hashable, Sendable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public struct Spec: Codable, Hashable, Sendable {
        public var type: String?
        public var clusterIP: String?
        public var clusterIPs: [String]?
        public var ports: [Port]?
        public var externalIPs: [String]?
        public var loadBalancerIP: String?
        public var loadBalancerSourceRanges: [String]?
        public var sessionAffinity: String?
        public var sessionAffinityConfig: SessionAffinityConfig?
        public var externalTrafficPolicy: String?
        public var internalTrafficPolicy: String?
        public var healthCheckNodePort: Int?
        public var trafficDistribution: String?
        public var ipFamilies: [String]?
        public var selector: [String: String]?
    }

    public struct Port: Codable, Hashable, Sendable {
        public var name: String?
        public var `protocol`: String?
        public var port: Int?
        public var targetPort: IntOrString?
        public var nodePort: Int?
        public var appProtocol: String?
    }

    public struct SessionAffinityConfig: Codable, Hashable, Sendable {
        public struct ClientIP: Codable, Hashable, Sendable { public var timeoutSeconds: Int? }
        public var clientIP: ClientIP?
    }

    public struct Status: Codable, Hashable, Sendable {
        public struct LoadBalancer: Codable, Hashable, Sendable {
            public struct Ingress: Codable, Hashable, Sendable {
                public var ip: String?
                public var hostname: String?
                /// `VIP` (default) or `Proxy`; kube-proxy leaves `Proxy` ingress IPs to the load balancer.
                public var ipMode: String?
            }
            public var ingress: [Ingress]?
        }
        public var loadBalancer: LoadBalancer?
    }
}
