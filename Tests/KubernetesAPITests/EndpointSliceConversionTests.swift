import Foundation
import KubernetesAPI
import ProxyModel
import Testing

@Suite struct EndpointSliceConversionTests {
    func slice(_ json: String) throws -> EndpointSliceObject {
        try JSONDecoder().decode(EndpointSliceObject.self, from: Data(json.utf8))
    }

    @Test func readsConditionsTopologyAndHints() throws {
        let info = try #require(try slice("""
        {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
         "metadata":{"name":"web-x7k2p","namespace":"shop","labels":{"kubernetes.io/service-name":"web"},
                     "annotations":{"endpoints.kubernetes.io/last-change-trigger-time":"2024-05-01T10:00:00Z"}},
         "addressType":"IPv4",
         "endpoints":[
           {"addresses":["10.180.0.1"],"conditions":{"ready":true,"serving":true,"terminating":false},
            "nodeName":"node-a","zone":"zone-a","hints":{"forZones":[{"name":"zone-a"}]}},
           {"addresses":["10.180.0.2"],"conditions":{"ready":false,"serving":true,"terminating":true},"nodeName":"node-b"},
           {"addresses":[],"conditions":{}},
           {"addresses":["10.180.0.3"]}],
         "ports":[{"name":"http","protocol":"TCP","port":8080},{"name":"all"}]}
        """).sliceInfo())
        #expect(info.service == NamespacedName(namespace: "shop", name: "web"))
        #expect(info.ports == [.init(name: "http", port: 8080, protocol: .tcp)])   // a port without number is skipped
        #expect(info.backends.map(\.address.description) == ["10.180.0.1", "10.180.0.2", "10.180.0.3"])
        #expect(info.backends[0].zoneHints == ["zone-a"])
        #expect(info.backends[1].isTerminating && info.backends[1].isServing && !info.backends[1].isReady)
        #expect(info.backends[2].isReady && info.backends[2].isServing)   // missing conditions mean ready
        #expect(info.lastChangeTriggerTime == 1_714_557_600)
    }

    @Test func sliceWithoutServiceLabelOrWithFQDNIsIgnored() throws {
        #expect(try slice(#"{"metadata":{"name":"a"},"addressType":"IPv4"}"#).sliceInfo() == nil)
        #expect(try slice(#"{"metadata":{"name":"a","labels":{"kubernetes.io/service-name":"s"}},"addressType":"FQDN"}"#).sliceInfo() == nil)
    }

    /// As kube-proxy's endpointslicecache: such an endpoint is dropped, the rest of the slice kept.
    @Test func anAddressOfTheWrongFamilyDropsThatEndpointAlone() throws {
        let info = try #require(try slice(#"""
        {"metadata":{"name":"a","labels":{"kubernetes.io/service-name":"s"}},"addressType":"IPv6",
         "endpoints":[{"addresses":["10.0.0.1"]},{"addresses":["fd00::1"]}],"ports":[{"port":80}]}
        """#).sliceInfo())
        #expect(info.backends.map(\.address) == [IPAddress("fd00::1")!])
    }

    /// kube-proxy reads a missing `serving` as true (not as `ready`) and a missing `terminating` as false.
    @Test func missingConditionsDefaultAsKubeProxyReadsThem() throws {
        let info = try #require(try slice(#"""
        {"metadata":{"name":"a","labels":{"kubernetes.io/service-name":"s"}},"addressType":"IPv4",
         "endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":false}},
                      {"addresses":["10.0.0.02"],"conditions":{"ready":false,"serving":false}}],"ports":[{"port":80}]}
        """#).sliceInfo())
        #expect(info.backends.map(\.isServing) == [true, false])
        #expect(info.backends.map(\.isTerminating) == [false, false])
        #expect(info.backends[1].address == IPAddress("10.0.0.2")!)
    }

    @Test func kubernetesTimesParse() {
        #expect(KubernetesTime.secondsSince1970("1970-01-01T00:00:00Z") == 0)
        #expect(KubernetesTime.secondsSince1970("2024-02-29T12:30:15.5Z") == 1_709_209_815.5)
        #expect(KubernetesTime.secondsSince1970("2024-02-29T14:30:15+02:00") == 1_709_209_815)
        #expect(KubernetesTime.secondsSince1970("yesterday") == nil)
    }
}
