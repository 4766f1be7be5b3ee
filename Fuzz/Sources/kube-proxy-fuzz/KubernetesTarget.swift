import Foundation
import KubernetesAPI
import KubernetesSource
import ProxyModel

/// Target 2: what the API server sends. The first byte picks the object kind (Service,
/// discovery/v1 EndpointSlice, core/v1 Endpoints, Node), LIST page or WATCH stream, and the chunk
/// size the watch stream is cut into; the rest is the JSON. Every decoded object is converted to
/// the model as the reflectors do, and the resulting snapshot rendered.
enum KubernetesTarget {
    static func run(_ bytes: [UInt8]) {
        guard let control = bytes.first else { return }
        let body = Array(bytes.dropFirst())
        let watch = control & 0b100 != 0
        let chunk = Int(control >> 3) + 1
        var state = ClusterState(node: NodeInfo(name: "node-a", addresses: [IPAddress("10.0.0.1")!]))
        switch control & 0b11 {
        case 0: apply(ServiceObject.self, body, watch: watch, chunk: chunk, &state) { o, s in
            let ports = try o.servicePorts(proxyName: nil)
            s.setService(o.namespacedName, ports: ports)
        }
        case 1: apply(EndpointSliceObject.self, body, watch: watch, chunk: chunk, &state) { o, s in
            _ = o.namespacedName
            if let info = try o.sliceInfo() { s.setEndpointSlice(info) }
        }
        case 2: apply(EndpointsObject.self, body, watch: watch, chunk: chunk, &state) { o, s in
            let infos = try o.sliceInfos()
            s.replaceEndpointSlices(of: o.namespacedName, with: infos)
        }
        default: apply(NodeObject.self, body, watch: watch, chunk: chunk, &state) { o, s in
            s.setNode(try o.nodeInfo())
        }
        }
        Render.all(state.takeSnapshot().snapshot, config: .init())
    }

    static func apply<Item: Decodable & Sendable>(
        _ type: Item.Type, _ body: [UInt8], watch: Bool, chunk: Int, _ state: inout ClusterState,
        _ convert: (Item, inout ClusterState) throws -> Void
    ) {
        var objects: [Decoded<Item>] = []
        if watch {
            let cuts = Array(stride(from: chunk, to: body.count, by: chunk))
            let (events, _) = FuzzEntryPoints.watchEvents(type, bytes: body, cuts: cuts)
            for event in events ?? [] {
                switch event {
                case .added(let d), .modified(let d), .deleted(let d): objects.append(d)
                case .bookmark(let rv): _ = rv
                case .error(let status): _ = status.isGone
                }
            }
        } else {
            guard let list = try? JSONDecoder().decode(ObjectList<Item>.self, from: Data(body)) else { return }
            objects = list.items
        }
        for decoded in objects {
            switch decoded {
            case .object(let object):
                do { try convert(object, &state) } catch { _ = "\(error)" }
            case .undecodable(let namespace, let name, let reason):
                _ = (namespace, name, reason)
            }
        }
    }
}
