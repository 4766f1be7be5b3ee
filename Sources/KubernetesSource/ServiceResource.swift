import KubernetesAPI
import ProxyModel

/// `v1/Services`. Headless Services are left out by the server, and so are Services that are not
/// ours: without a `service-proxy-name` of our own, every labelled one; with one, all but those
/// labelled with it (`servicePorts(proxyName:)` decides the same again).
struct ServiceResource: ReflectedResource {
    var proxyName: String?

    var resource: String { "services" }
    var kind: String { "Service" }
    var path: String { "/api/v1/services" }
    var labelSelector: String? {
        ServiceLabels.selector(proxyName: proxyName)
    }

    func apply(_ object: ServiceObject, previous: Bool?, to state: inout ClusterState) throws(ObjectRejection) -> Bool? {
        let ports = try object.servicePorts(proxyName: proxyName)
        state.setService(object.namespacedName, ports: ports)
        return ports.isEmpty ? nil : true
    }

    func remove(_ key: NamespacedName, record: Bool, from state: inout ClusterState) {
        state.setService(key, ports: nil)
    }
}
