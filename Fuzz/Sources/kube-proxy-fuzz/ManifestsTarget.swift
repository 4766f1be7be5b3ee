import FileSource
import ProxyModel

/// Target 1: a manifests file (multi-document YAML or JSON of Services, EndpointSlices and Lists),
/// parsed as FileSource does, put into the model, and the snapshot rendered by both backends.
enum ManifestsTarget {
    static func run(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        var set = ManifestSet()
        do {
            try set.add(yaml: text, file: "fuzz.yaml")
        } catch {
            _ = error.description
            return
        }
        var state = ClusterState(node: NodeInfo(name: "node-a", addresses: [IPAddress("10.0.0.1")!]))
        set.apply(to: &state)
        let snapshot = state.takeSnapshot().snapshot
        Render.all(snapshot, config: .init(clusterCIDRs: [CIDR("10.244.0.0/16")!]))
    }
}
