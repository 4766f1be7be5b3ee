import KubernetesAPI
import ProxyModel

/// `discovery.k8s.io/v1` (or `v1beta1`) EndpointSlices, joined to their Service by label.
struct EndpointSliceResource: ReflectedResource {
    /// `v1` or `v1beta1`.
    var version: String
    var proxyName: String?

    var resource: String { "endpointslices" }
    var kind: String { "EndpointSlice" }
    var path: String { "/apis/discovery.k8s.io/\(version)/endpointslices" }
    var labelSelector: String? {
        ServiceLabels.selector(proxyName: proxyName)
    }

    /// The record is the Service the slice was filed under.
    func apply(_ object: EndpointSliceObject, previous: NamespacedName?, to state: inout ClusterState) throws(ObjectRejection) -> NamespacedName? {
        let info = try object.sliceInfo()
        if let previous, previous != info?.service {
            state.removeEndpointSlice(object.namespacedName, service: previous)
        }
        guard let info else { return nil }
        state.setEndpointSlice(info)
        return info.service
    }

    func remove(_ key: NamespacedName, record: NamespacedName, from state: inout ClusterState) {
        state.removeEndpointSlice(key, service: record)
    }
}
