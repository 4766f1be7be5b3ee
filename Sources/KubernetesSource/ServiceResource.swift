import KubernetesAPI
import ProxyModel

/// `v1/Services`. Headless Services are left out by the server; Services of another proxy too,
/// unless we have a `service-proxy-name` of our own, when `servicePorts(proxyName:)` decides.
struct ServiceResource: ReflectedResource {
    var proxyName: String?

    var resource: String { "services" }
    var kind: String { "Service" }
    var path: String { "/api/v1/services" }
    var labelSelector: String? {
        proxyName == nil
            ? "!\(ServiceLabels.serviceProxyName),!\(ServiceLabels.headless)"
            : "!\(ServiceLabels.headless)"
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
