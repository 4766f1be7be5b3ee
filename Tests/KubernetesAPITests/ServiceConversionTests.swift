import Foundation
import KubernetesAPI
import ProxyModel
import Testing

/// Services as the API server serves them (JSON from the v1 API reference's field names).
@Suite struct ServiceConversionTests {
    func service(_ json: String) throws -> ServiceObject {
        try JSONDecoder().decode(ServiceObject.self, from: Data(json.utf8))
    }

    @Test func loadBalancerServiceBecomesOneServicePortPerPort() throws {
        let svc = try service("""
        {"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop","resourceVersion":"812"},
         "spec":{"type":"LoadBalancer","clusterIP":"172.30.0.41","clusterIPs":["172.30.0.41","fd00::41"],
                 "ipFamilies":["IPv4","IPv6"],
                 "ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":"web","nodePort":30080},
                          {"name":"dns","protocol":"UDP","port":53,"targetPort":5353,"nodePort":30053}],
                 "externalIPs":["192.0.2.7"],"loadBalancerSourceRanges":["203.0.113.0/24"],
                 "sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":600}},
                 "externalTrafficPolicy":"Local","healthCheckNodePort":31999,"internalTrafficPolicy":"Cluster"},
         "status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.9","ipMode":"VIP"},{"ip":"198.51.100.10","ipMode":"Proxy"}]}}}
        """)
        let ports = try svc.servicePorts()
        #expect(ports.map(\.name.description) == ["shop/web:http", "shop/web:dns"])
        let http = ports[0]
        #expect(http.clusterIPs.map(\.description) == ["172.30.0.41", "fd00::41"])
        #expect(http.targetPort == .name("web"))
        #expect(http.nodePort == 30080)
        #expect(http.externalIPs.map(\.description) == ["192.0.2.7"])
        #expect(http.loadBalancerIPs.map(\.description) == ["198.51.100.9"])   // ipMode Proxy is the LB's job
        #expect(http.loadBalancerSourceRanges.map(\.description) == ["203.0.113.0/24"])
        #expect(http.sessionAffinity == .clientIP(timeoutSeconds: 600))
        #expect(http.externalTrafficPolicy == .local)
        #expect(http.healthCheckNodePort == 31999)
        #expect(ports[1].protocol == .udp)
        #expect(ports[1].targetPort == .number(5353))
    }

    @Test func headlessExternalNameAndOtherProxysServicesAreNotOurs() throws {
        let headless = try service(#"{"metadata":{"name":"h"},"spec":{"clusterIP":"None","ports":[{"port":80}]}}"#)
        #expect(try headless.servicePorts().isEmpty)
        let external = try service(#"{"metadata":{"name":"e"},"spec":{"type":"ExternalName","externalName":"example.com"}}"#)
        #expect(try external.servicePorts().isEmpty)
        let other = try service(#"""
        {"metadata":{"name":"o","labels":{"service.kubernetes.io/service-proxy-name":"cilium"}},
         "spec":{"clusterIP":"10.0.0.1","ports":[{"port":80}]}}
        """#)
        #expect(try other.servicePorts().isEmpty)
        #expect(try other.servicePorts(proxyName: "cilium").count == 1)
        // With a proxy name of our own, unlabelled Services belong to the default proxy.
        let unlabelled = try service(#"{"metadata":{"name":"u"},"spec":{"clusterIP":"10.0.0.2","ports":[{"port":80}]}}"#)
        #expect(try unlabelled.servicePorts().count == 1)
        #expect(try unlabelled.servicePorts(proxyName: "cilium").isEmpty)
        #expect(ServiceLabels.selector(proxyName: nil) == "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless")
        #expect(ServiceLabels.selector(proxyName: "cilium") == "service.kubernetes.io/service-proxy-name=cilium,!service.kubernetes.io/headless")
    }

    /// As kube-proxy's serviceport.go: a bad entry of a list is skipped, and the Service kept.
    @Test func aBadListEntryIsSkippedAloneAndLeadingZerosAreDecimal() throws {
        let svc = try service("""
        {"metadata":{"name":"lb","annotations":{"service.beta.kubernetes.io/load-balancer-source-ranges":"192.0.2.0/24"}},
         "spec":{"type":"LoadBalancer","clusterIP":"172.30.0.041",
                 "ports":[{"port":80,"nodePort":30080}],
                 "externalIPs":["192.0.2.300","192.0.2.7"],
                 "loadBalancerSourceRanges":[" 203.0.113.0/24","not-a-cidr","198.51.100.0/33","010.1.0.0/16 "]},
         "status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.999"},{"hostname":"lb.example"},{"ip":"198.51.100.9"}]}}}
        """)
        let port = try #require(try svc.servicePorts().first)
        #expect(port.clusterIPs == [IPAddress("172.30.0.41")!])
        #expect(port.externalIPs == [IPAddress("192.0.2.7")!])
        #expect(port.loadBalancerIPs == [IPAddress("198.51.100.9")!])
        #expect(port.loadBalancerSourceRanges == [CIDR("203.0.113.0/24")!, CIDR("10.1.0.0/16")!])
    }

    /// kube-proxy never reads the legacy source-ranges annotation, and takes ingress IPs whatever the type.
    @Test func noAnnotationRangesAndIngressIPsOfAnyType() throws {
        let svc = try service("""
        {"metadata":{"name":"was-lb","annotations":{"service.beta.kubernetes.io/load-balancer-source-ranges":"192.0.2.0/24"}},
         "spec":{"type":"NodePort","clusterIP":"10.0.0.9","ports":[{"port":80,"nodePort":30081}]},
         "status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.9"}]}}}
        """)
        let port = try #require(try svc.servicePorts().first)
        #expect(port.loadBalancerSourceRanges.isEmpty)
        #expect(port.loadBalancerIPs == [IPAddress("198.51.100.9")!])
    }

    @Test func defaultsMatchKubernetes() throws {
        let svc = try service(#"{"metadata":{"name":"d"},"spec":{"clusterIP":"10.0.0.1","ports":[{"port":80}]}}"#)
        let port = try #require(try svc.servicePorts().first)
        #expect(port.name.description == "default/d")
        #expect(port.protocol == .tcp)
        #expect(port.targetPort == .number(80))
        #expect(port.sessionAffinity == .none)
        #expect(port.nodePort == 0)
    }

    @Test func invalidFieldsAreRejectedWithTheirPath() throws {
        let badIP = try service(#"{"metadata":{"name":"b"},"spec":{"clusterIP":"10.0.0.300","ports":[{"port":80}]}}"#)
        #expect(throws: ObjectRejection.self) { try badIP.servicePorts() }
        do {
            _ = try badIP.servicePorts()
        } catch {
            #expect(error.fieldPath == "spec.clusterIP")
            #expect(error.description.contains("default/b"))
        }
        let badPort = try service(#"{"metadata":{"name":"p"},"spec":{"clusterIP":"10.0.0.1","ports":[{"port":80},{"port":70000}]}}"#)
        do {
            _ = try badPort.servicePorts()
            Issue.record("a port of 70000 was accepted")
        } catch {
            #expect(error.fieldPath == "spec.ports[1].port")
        }
    }
}
