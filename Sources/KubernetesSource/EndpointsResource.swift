import KubernetesAPI
import ProxyModel

/// `v1/Endpoints`, for clusters without EndpointSlices or when `endpointsSource: endpoints`.
struct EndpointsResource: ReflectedResource {
    var proxyName: String?

    var resource: String { "endpoints" }
    var kind: String { "Endpoints" }
    var path: String { "/api/v1/endpoints" }
    var labelSelector: String? {
        ServiceLabels.selector(proxyName: proxyName)
    }

    func apply(_ object: EndpointsObject, previous: Bool?, to state: inout ClusterState) throws(ObjectRejection) -> Bool? {
        let slices = try object.sliceInfos()
        state.replaceEndpointSlices(of: object.namespacedName, with: slices)
        return slices.isEmpty ? nil : true
    }

    func remove(_ key: NamespacedName, record: Bool, from state: inout ClusterState) {
        state.replaceEndpointSlices(of: key, with: [])
    }
}
