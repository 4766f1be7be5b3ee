import ProxyModel

/// Labels that keep a Service away from this proxy, as kube-proxy's informer selector does.
public enum ServiceLabels {
    public static let serviceProxyName = "service.kubernetes.io/service-proxy-name"
    public static let headless = "service.kubernetes.io/headless"

    /// The label selector of Services (and their endpoints) that are ours: unlabelled ones without
    /// a proxy name of our own, only those labelled with it otherwise; never headless ones.
    public static func selector(proxyName: String?) -> String {
        guard let proxyName else { return "!\(serviceProxyName),!\(headless)" }
        return "\(serviceProxyName)=\(proxyName),!\(headless)"
    }
}

extension ServiceObject {
    public var namespacedName: NamespacedName {
        NamespacedName(namespace: metadata.namespace ?? "default", name: metadata.name ?? "")
    }

    /// The Service ports this proxy programs, or `[]` when kube-proxy would ignore the Service
    /// (headless, ExternalName, labelled for another proxy). Throws when a field is invalid; the
    /// caller then skips the whole object.
    ///
    /// - Parameter proxyName: our `service-proxy-name`. With one, only Services labelled with it are
    ///   ours (unlabelled ones belong to the cluster's default proxy); without one, only unlabelled
    ///   Services are, as in kube-proxy.
    public func servicePorts(proxyName: String? = nil) throws(ObjectRejection) -> [ServicePort] {
        let v = FieldValidator(kind: "Service", object: "\(metadata.namespace ?? "default")/\(metadata.name ?? "?")")
        let name = try v.name(metadata)
        if metadata.labels?[ServiceLabels.serviceProxyName] != proxyName { return [] }
        if metadata.labels?[ServiceLabels.headless] != nil { return [] }
        guard let spec else { throw v.reject(["spec"], "missing") }
        if spec.type == "ExternalName" { return [] }

        var clusterIPTexts = spec.clusterIPs ?? []
        if clusterIPTexts.isEmpty, let ip = spec.clusterIP { clusterIPTexts = [ip] }
        if clusterIPTexts.isEmpty || clusterIPTexts.first == "None" || clusterIPTexts.first == "" { return [] }
        let field = spec.clusterIPs == nil ? ["spec", "clusterIP"] : ["spec", "clusterIPs"]
        var clusterIPs: [IPAddress] = []
        for (i, text) in clusterIPTexts.enumerated() {
            clusterIPs.append(try v.address(text, at: spec.clusterIPs == nil ? field : field + [String(i)]))
        }

        let type = spec.type ?? "ClusterIP"
        guard ["ClusterIP", "NodePort", "LoadBalancer"].contains(type) else {
            throw v.reject(["spec", "type"], "\"\(type)\" is not ClusterIP, NodePort, LoadBalancer or ExternalName")
        }
        // As kube-proxy (serviceport.go): an external IP, ingress IP or source range that does not
        // parse is left out on its own, never the Service. Ingress IPs are taken whatever the
        // type (a Service changed from LoadBalancer keeps its status until the controller clears
        // it, and kube-proxy programs it meanwhile); `ipMode: Proxy` ones are the LB's to handle.
        // Source ranges come from the spec only: kube-proxy never reads the legacy annotation.
        let externalIPs = (spec.externalIPs ?? []).compactMap { IPAddress(sloppy: $0) }
        let loadBalancerIPs = (status?.loadBalancer?.ingress ?? []).compactMap { ingress -> IPAddress? in
            guard ingress.ipMode != "Proxy", let text = ingress.ip, !text.isEmpty else { return nil }
            return IPAddress(sloppy: text)
        }
        let sourceRanges = (spec.loadBalancerSourceRanges ?? []).compactMap { CIDR(sloppy: $0.trimmingSpaces) }

        let affinity: SessionAffinity
        switch spec.sessionAffinity ?? "None" {
        case "None": affinity = .none
        case "ClientIP":
            let timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? SessionAffinity.defaultTimeoutSeconds
            guard 1...86_400 ~= timeout else {
                throw v.reject(["spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"], "\(timeout) is not within 1-86400")
            }
            affinity = .clientIP(timeoutSeconds: timeout)
        case let other: throw v.reject(["spec", "sessionAffinity"], "\"\(other)\" is not None or ClientIP")
        }
        let external = try policy(spec.externalTrafficPolicy, field: ["spec", "externalTrafficPolicy"], v)
        let internalPolicy = try policy(spec.internalTrafficPolicy, field: ["spec", "internalTrafficPolicy"], v)
        let healthCheckNodePort = try v.port(spec.healthCheckNodePort, at: ["spec", "healthCheckNodePort"], allowZero: true)

        guard let ports = spec.ports, !ports.isEmpty else { throw v.reject(["spec", "ports"], "no ports") }
        guard ports.count <= 1024 else { throw v.reject(["spec", "ports"], "\(ports.count) ports is more than any real Service has") }
        var result: [ServicePort] = []
        for (i, p) in ports.enumerated() {
            let at = ["spec", "ports", String(i)]
            let proto = try v.protocol(p.protocol, at: at + ["protocol"])
            let port = try v.port(p.port, at: at + ["port"])
            let nodePort = type == "ClusterIP" ? 0 : try v.port(p.nodePort, at: at + ["nodePort"], allowZero: true)
            let target: TargetPort
            switch p.targetPort {
            case .int(let n)?: target = .number(try v.port(n, at: at + ["targetPort"]))
            case .string(let s)?: target = .name(s)
            case nil: target = .number(port)
            }
            let portName = ServicePortName(service: name, port: p.name ?? "", protocol: proto)
            if result.contains(where: { $0.name == portName }) {
                throw v.reject(at + ["name"], "duplicate port name \"\(p.name ?? "")\" for \(proto.rawValue)")
            }
            result.append(ServicePort(
                name: portName, clusterIPs: clusterIPs, port: port, targetPort: target, nodePort: nodePort,
                externalIPs: externalIPs, loadBalancerIPs: loadBalancerIPs, loadBalancerSourceRanges: sourceRanges,
                sessionAffinity: affinity, externalTrafficPolicy: external, internalTrafficPolicy: internalPolicy,
                healthCheckNodePort: external == .local && type == "LoadBalancer" ? healthCheckNodePort : 0,
                trafficDistribution: spec.trafficDistribution))
        }
        return result
    }

    private func policy(_ text: String?, field: [String], _ v: FieldValidator) throws(ObjectRejection) -> TrafficPolicy {
        guard let text else { return .cluster }
        guard let p = TrafficPolicy(rawValue: text) else { throw v.reject(field, "\"\(text)\" is not Cluster or Local") }
        return p
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
