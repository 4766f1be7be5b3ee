import KubernetesAPI
import ProxyModel

/// Any object with Kubernetes `metadata`.
protocol KubernetesObject: Decodable, Sendable {
    var metadata: ObjectMeta { get }
}

extension ServiceObject: KubernetesObject {}
extension EndpointSliceObject: KubernetesObject {}
extension EndpointsObject: KubernetesObject {}
extension NodeObject: KubernetesObject {}

/// One kind of object a `Reflector` lists and watches, and how it lands in the `ClusterState`.
protocol ReflectedResource: Sendable {
    associatedtype Object: KubernetesObject
    /// What the reflector remembers of each object it applied (e.g. the Service a slice belongs to),
    /// so a delete or a relist can take it out again.
    associatedtype Record: Sendable

    /// Plural resource name, used in logs and as the metrics `resource` dimension.
    var resource: String { get }
    /// Object kind for logs and the `kind` dimension of rejections.
    var kind: String { get }
    /// Collection path, e.g. `/api/v1/services`.
    var path: String { get }
    var labelSelector: String? { get }
    var fieldSelector: String? { get }

    /// Records the object; returns what to remember, or nil when the object is not ours (and any
    /// previous version was taken out). Throws when it is invalid: the previous version then stays.
    func apply(_ object: Object, previous: Record?, to state: inout ClusterState) throws(ObjectRejection) -> Record?
    func remove(_ key: NamespacedName, record: Record, from state: inout ClusterState)
}

extension ReflectedResource {
    var fieldSelector: String? { nil }
}

extension KubernetesObject {
    var key: NamespacedName {
        NamespacedName(namespace: metadata.namespace ?? "default", name: metadata.name ?? "")
    }
}
