import KubernetesAPI
import ProxyModel

/// Our own `v1/Node`, for its addresses and topology labels. Its deletion leaves the last known
/// view in place: the proxy keeps serving what it has.
struct NodeResource: ReflectedResource {
    var nodeName: String

    var resource: String { "nodes" }
    var kind: String { "Node" }
    var path: String { "/api/v1/nodes" }
    var labelSelector: String? { nil }
    var fieldSelector: String? { "metadata.name=\(nodeName)" }

    func apply(_ object: NodeObject, previous: Bool?, to state: inout ClusterState) throws(ObjectRejection) -> Bool? {
        guard object.metadata.name == nodeName else { return nil }
        state.setNode(try object.nodeInfo())
        return true
    }

    func remove(_ key: NamespacedName, record: Bool, from state: inout ClusterState) {}
}
