import Foundation
import KubernetesAPI
import ProxyModel
import Testing

/// `v1/Endpoints`, `v1/Node`, LIST pages and watch events, from JSON written as the API reference
/// describes them.
@Suite struct EndpointsNodeListConversionTests {
    func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(json.utf8))
    }

    let endpoints = """
        {"kind":"Endpoints","apiVersion":"v1",
         "metadata":{"name":"dns","namespace":"kube-system","resourceVersion":"310",
                     "annotations":{"endpoints.kubernetes.io/last-change-trigger-time":"2024-05-02T09:15:31Z"}},
         "subsets":[
           {"addresses":[{"ip":"10.244.0.2","nodeName":"node-a","targetRef":{"kind":"Pod","namespace":"kube-system","name":"coredns-1"}}],
            "notReadyAddresses":[{"ip":"10.244.1.3","nodeName":"node-b"}],
            "ports":[{"name":"dns","port":53,"protocol":"UDP"},{"name":"dns-tcp","port":53,"protocol":"TCP"}]},
           {"addresses":[{"ip":"10.244.2.4"}],"ports":[{"name":"metrics","port":9153,"protocol":"TCP"}]}
         ]}
        """

    @Test func endpointsBecomeOneSlicePerSubsetOfTheSameService() throws {
        let slices = try decode(EndpointsObject.self, endpoints).sliceInfos()
        #expect(slices.count == 2)
        let service = NamespacedName(namespace: "kube-system", name: "dns")
        #expect(slices.allSatisfy { $0.service == service })
        #expect(slices[0].name.name == "dns/subset-0")
        #expect(slices[0].ports.map(\.protocol) == [.udp, .tcp])
        #expect(slices[0].backends.map(\.address.description) == ["10.244.0.2", "10.244.1.3"])
        #expect(slices[0].backends.map(\.isReady) == [true, false])
        #expect(slices[0].backends.map(\.isServing) == [true, false])
        #expect(slices[0].backends.first?.nodeName == "node-a")
        #expect(slices[0].lastChangeTriggerTime == 1_714_641_331)
        #expect(slices[1].ports.first?.port == 9153)
    }

    @Test func endpointsWithABadAddressAreRejectedNamingTheField() throws {
        let bad = endpoints.replacingOccurrences(of: "10.244.2.4", with: "10.244.2.400")
        #expect(throws: ObjectRejection(kind: "Endpoints", object: "kube-system/dns",
                                        field: ["subsets", "1", "addresses", "0", "ip"],
                                        reason: "\"10.244.2.400\" is not an IP address")) {
            try decode(EndpointsObject.self, bad).sliceInfos()
        }
        let badPort = endpoints.replacingOccurrences(of: "9153", with: "0")
        #expect(throws: ObjectRejection.self) { try decode(EndpointsObject.self, badPort).sliceInfos() }
    }

    @Test func aNodeGivesInternalThenExternalAddressesLabelsAndDeletion() throws {
        let node = try decode(NodeObject.self, """
            {"kind":"Node","apiVersion":"v1",
             "metadata":{"name":"node-a","labels":{"topology.kubernetes.io/zone":"eu-west-1a"},"deletionTimestamp":"2024-05-02T10:00:00Z"},
             "status":{"addresses":[{"type":"Hostname","address":"node-a"},{"type":"ExternalIP","address":"198.51.100.21"},
                                    {"type":"InternalIP","address":"192.168.10.21"},{"type":"InternalIP","address":"fd00::21"},
                                    {"type":"InternalDNS","address":"node-a.eu-west-1.compute.internal"}]}}
            """).nodeInfo()
        #expect(node.name == "node-a")
        #expect(node.addresses.map(\.description) == ["192.168.10.21", "fd00::21", "198.51.100.21"])
        #expect(node.zone == "eu-west-1a")
        #expect(node.isTerminating)

        // KEP-3836: the cluster autoscaler's taint makes the node ineligible too; other taints do not.
        func tainted(_ key: String) throws -> NodeInfo {
            try decode(NodeObject.self, """
            {"metadata":{"name":"node-b"},"spec":{"taints":[{"key":"\(key)","value":"1714557600","effect":"NoSchedule"}]}}
            """).nodeInfo()
        }
        #expect(try tainted("ToBeDeletedByClusterAutoscaler").isTerminating)
        #expect(try !tainted("node.kubernetes.io/unschedulable").isTerminating)
    }

    @Test func aListPageKeepsItemsThatDoNotDecodeAsUndecodableWithTheirName() throws {
        let page = try decode(ObjectList<ServiceObject>.self, """
            {"kind":"ServiceList","apiVersion":"v1",
             "metadata":{"resourceVersion":"5230","continue":"eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ","remainingItemCount":3},
             "items":[
               {"metadata":{"name":"kubernetes","namespace":"default","resourceVersion":"199"},
                "spec":{"ports":[{"name":"https","protocol":"TCP","port":443,"targetPort":6443}],"clusterIP":"10.96.0.1","type":"ClusterIP"}},
               {"metadata":{"name":"broken","namespace":"shop"},"spec":{"ports":[{"port":"eighty"}]}}
             ]}
            """)
        #expect(page.metadata.resourceVersion == "5230")
        #expect(page.metadata.continue == "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ")
        #expect(page.metadata.remainingItemCount == 3)
        guard case .object(let first) = page.items[0], case .undecodable(let ns, let name, let reason) = page.items[1] else {
            Issue.record("unexpected items \(page.items)")
            return
        }
        #expect(first.metadata.name == "kubernetes")
        #expect(ns == "shop" && name == "broken")
        #expect(reason.hasPrefix("spec.ports[0].port"))
    }

    @Test func watchEventsOfEveryTypeDecode() throws {
        let bookmark = try decode(WatchEvent<EndpointSliceObject>.self, """
            {"type":"BOOKMARK","object":{"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"resourceVersion":"12746","creationTimestamp":null},"endpoints":null}}
            """)
        guard case .bookmark("12746") = bookmark else { Issue.record("\(bookmark)"); return }
        let error = try decode(WatchEvent<EndpointSliceObject>.self, """
            {"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (12746)","reason":"Expired","code":410}}
            """)
        guard case .error(let status) = error else { Issue.record("\(error)"); return }
        #expect(status.isGone && status.code == 410)
        let deleted = try decode(WatchEvent<EndpointSliceObject>.self, """
            {"type":"DELETED","object":{"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":"web-abc","namespace":"shop","resourceVersion":"12750","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","endpoints":[],"ports":[]}}
            """)
        guard case .deleted(.object(let slice)) = deleted else { Issue.record("\(deleted)"); return }
        #expect(slice.metadata.resourceVersion == "12750")
        #expect(throws: DecodingError.self) { try decode(WatchEvent<EndpointSliceObject>.self, #"{"type":"SURPRISE","object":{}}"#) }
    }
}
