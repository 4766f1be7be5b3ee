import Foundation
import KubernetesAPI
import ProxyModel

/// The Kubernetes source's work at scale, as the reflectors do it: LIST pages of Services and
/// EndpointSlices (Kubernetes JSON) decoded and recorded in a `ClusterStore`, the first snapshot
/// built, then one endpoint change arriving as a watch event and the next snapshot built.
public struct InitialSyncWorkload: Sendable {
    public var services: Int
    public var endpointsPerSlice: Int
    public var pageSize: Int

    public init(services: Int = 10_000, endpointsPerSlice: Int = 10, pageSize: Int = 500) {
        self.services = services
        self.endpointsPerSlice = endpointsPerSlice
        self.pageSize = pageSize
    }

    public var pageCount: Int { (services + pageSize - 1) / pageSize }

    /// One `ServiceList` page, as the API server sends it.
    public func servicePage(_ page: Int) -> Data {
        let range = (page * pageSize)..<min(services, (page + 1) * pageSize)
        let items = range.map { n in
            #"{"metadata":{"name":"svc-\#(n)","namespace":"ns-\#(n % 100)","uid":"00000000-0000-4000-8000-\#(String(format: "%012d", n))","resourceVersion":"\#(1000 + n)","creationTimestamp":"2024-05-02T09:14:07Z","labels":{"app":"svc-\#(n)"}},"spec":{"ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080},{"name":"https","protocol":"TCP","port":443,"targetPort":8443}],"selector":{"app":"svc-\#(n)"},"clusterIP":"\#(Self.clusterIP(n))","clusterIPs":["\#(Self.clusterIP(n))"],"type":"ClusterIP","sessionAffinity":"None","ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","internalTrafficPolicy":"Cluster"},"status":{"loadBalancer":{}}}"#
        }
        return list("ServiceList", page: page, items: items)
    }

    /// One `EndpointSliceList` page: one slice per Service.
    public func slicePage(_ page: Int) -> Data {
        let range = (page * pageSize)..<min(services, (page + 1) * pageSize)
        let items = range.map { slice($0, firstEndpoint: 0, resourceVersion: 20_000 + $0) }
        return list("EndpointSliceList", page: page, items: items)
    }

    /// A MODIFIED watch event for Service `n`'s slice, its endpoints shifted by one.
    public func changeEvent(_ n: Int, generation: Int) -> Data {
        Data((#"{"type":"MODIFIED","object":"# + slice(n, firstEndpoint: generation, resourceVersion: 40_000 + generation) + "}\n").utf8)
    }

    private func slice(_ n: Int, firstEndpoint: Int, resourceVersion: Int) -> String {
        let endpoints = (firstEndpoint..<(firstEndpoint + endpointsPerSlice)).map { e in
            #"{"addresses":["\#(Self.podIP(n, e))"],"conditions":{"ready":true,"serving":true,"terminating":false},"targetRef":{"kind":"Pod","namespace":"ns-\#(n % 100)","name":"svc-\#(n)-pod-\#(e)"},"nodeName":"node-\#(e % 50)","zone":"zone-\#(e % 3)"}"#
        }.joined(separator: ",")
        return #"{"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":"svc-\#(n)-abcde","generateName":"svc-\#(n)-","namespace":"ns-\#(n % 100)","resourceVersion":"\#(resourceVersion)","labels":{"endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io","kubernetes.io/service-name":"svc-\#(n)"},"annotations":{"endpoints.kubernetes.io/last-change-trigger-time":"2024-05-02T09:15:31Z"}},"addressType":"IPv4","endpoints":[\#(endpoints)],"ports":[{"name":"http","protocol":"TCP","port":8080},{"name":"https","protocol":"TCP","port":8443}]}"#
    }

    private func list(_ kind: String, page: Int, items: [String]) -> Data {
        let next = page + 1 < pageCount ? "page-\(page + 1)" : ""
        return Data((#"{"kind":"\#(kind)","apiVersion":"v1","metadata":{"resourceVersion":"30000","continue":"\#(next)"},"items":["# + items.joined(separator: ",") + "]}").utf8)
    }

    static func clusterIP(_ n: Int) -> String { "10.96.\(n / 250).\(n % 250 + 1)" }
    static func podIP(_ n: Int, _ e: Int) -> String {
        let address = n * 64 + e % 64
        return "10.\(128 + address >> 16).\((address >> 8) & 255).\(address & 255)"
    }

    /// Decodes every page (given, or generated one at a time as the server would stream them),
    /// records it in a new store, and takes the first snapshot.
    public func initialSync(servicePages: [Data]? = nil, slicePages: [Data]? = nil) throws -> (ClusterStore, ProxySnapshot) {
        let store = ClusterStore(node: NodeInfo(name: "node-0"))
        let decoder = JSONDecoder()
        for page in 0..<pageCount {
            let list = try decoder.decode(ObjectList<ServiceObject>.self, from: servicePages?[page] ?? servicePage(page))
            store.update(now: 0) { state in
                for case .object(let service) in list.items {
                    if let ports = try? service.servicePorts() { state.setService(service.namespacedName, ports: ports) }
                }
            }
        }
        for page in 0..<pageCount {
            let list = try decoder.decode(ObjectList<EndpointSliceObject>.self, from: slicePages?[page] ?? slicePage(page))
            store.update(now: 0) { state in
                for case .object(let slice) in list.items {
                    if let info = try? slice.sliceInfo() { state.setEndpointSlice(info) }
                }
            }
        }
        return (store, store.takeSnapshot().snapshot)
    }

    /// One watch event decoded and recorded, and the snapshot after it.
    public static func applyChange(_ event: Data, to store: ClusterStore) throws -> ProxySnapshot {
        let decoded = try JSONDecoder().decode(WatchEvent<EndpointSliceObject>.self, from: event.dropLast())
        guard case .modified(.object(let slice)) = decoded, let info = try slice.sliceInfo() else {
            fatalError("the workload's change event did not decode")
        }
        store.update(now: 0) { $0.setEndpointSlice(info) }
        return store.takeSnapshot().snapshot
    }
}
