import KubernetesAPI
import ProxyModel
import Yams

import Foundation

/// Everything one reading of the manifests declares: Services and EndpointSlices, already in the
/// model's terms. Either a whole reading succeeds, or it fails with the first error and nothing of
/// it is used.
public struct ManifestSet: Hashable, Sendable {
    public var services: [NamespacedName: [ServicePort]] = [:]
    public var slices: [NamespacedName: EndpointSliceInfo] = [:]
    /// Objects of other kinds (a Deployment beside its Service, say), skipped by kind.
    public var ignoredKinds: [String] = []

    public init() {}

    /// Parses one file's text: multi-document YAML (or JSON) holding `v1/Service`,
    /// `discovery.k8s.io/v1/EndpointSlice` and `List` objects, as `kubectl get -o yaml` prints them.
    public mutating func add(yaml text: String, file: String, proxyName: String? = nil,
                             limits: ManifestLimits = .standard) throws(ManifestError) {
        guard text.utf8.count <= limits.maxBytes else {
            throw ManifestError(file: file, message: "larger than \(limits.maxBytes >> 20) MiB; split it into several files")
        }
        if let line = limits.lineTooDeep(in: text) {
            throw ManifestError(file: file, line: line, column: nil, message: "nested deeper than \(limits.maxDepth) levels")
        }
        var documents: [Node] = []
        do {
            // The sequence swallows a parse error into `.error` and just ends: check it, or a broken
            // file would silently lose every document after the error.
            var sequence = try Yams.compose_all(yaml: text)
            while let document = sequence.next() { documents.append(document) }
            if let error = sequence.error { throw error }
        } catch let error as YamlError {
            throw ManifestSet.error(from: error, file: file)
        } catch {
            throw ManifestError(file: file, message: "\(error)")
        }
        for document in documents {
            guard limits.fits(document) else {
                throw ManifestError(file: file, line: document.mark?.line, column: document.mark?.column,
                                    message: "document too large once its aliases are expanded (more than \(limits.maxExpandedNodes) nodes or \(limits.maxDepth) levels)")
            }
            try add(object: document, file: file, proxyName: proxyName)
        }
    }

    /// Puts this reading into `state`: what `previous` (the reading in force) declared and this one
    /// does not is removed, everything declared now is set.
    public func apply(to state: inout ClusterState, replacing previous: ManifestSet? = nil) {
        for name in previous?.services.keys ?? [:].keys where services[name] == nil {
            state.setService(name, ports: nil)
        }
        for (name, ports) in services { state.setService(name, ports: ports) }
        for (name, slice) in previous?.slices ?? [:] where slices[name] == nil {
            state.removeEndpointSlice(name, service: slice.service)
        }
        for slice in slices.values { state.setEndpointSlice(slice) }
    }

    /// Adds the objects of another file; an object both declare is an error, as within one file.
    mutating func merge(_ other: ManifestSet, from file: String) throws(ManifestError) {
        for (name, ports) in other.services.sorted(by: { $0.key < $1.key }) {
            guard services[name] == nil else { throw ManifestError(file: file, message: "Service \(name) is declared twice (also in an earlier file)") }
            services[name] = ports
        }
        for (name, slice) in other.slices.sorted(by: { $0.key < $1.key }) {
            guard slices[name] == nil else { throw ManifestError(file: file, message: "EndpointSlice \(name) is declared twice (also in an earlier file)") }
            slices[name] = slice
        }
        ignoredKinds += other.ignoredKinds
    }

    private mutating func add(object node: Node, file: String, proxyName: String?) throws(ManifestError) {
        guard case .mapping = node else {
            if case .scalar(let s) = node, s.string.isEmpty { return }   // an empty document
            throw ManifestError(file: file, line: node.mark?.line, column: node.mark?.column, message: "expected a Kubernetes object (a mapping)")
        }
        let kind = node["kind"]?.string ?? ""
        let apiVersion = node["apiVersion"]?.string ?? ""
        switch kind {
        case "List", "ServiceList", "EndpointSliceList":
            guard case .sequence(let items)? = node["items"] else {
                throw located(file, node, ["items"], "\(kind): expected a list of items")
            }
            for item in items { try add(object: item, file: file, proxyName: proxyName) }
        case "Service":
            guard apiVersion == "v1" else { throw located(file, node, ["apiVersion"], "Service: apiVersion \"\(apiVersion)\" is not v1") }
            let object: ServiceObject = try decode(node, file: file, kind: kind)
            try validate(file, node, kind) { () throws(APIServerValidation.Problem) in try APIServerValidation.check(object) }
            let ports: [ServicePort]
            do { ports = try object.servicePorts(proxyName: proxyName) } catch { throw located(file, node, error.field, error.description) }
            let name = object.namespacedName
            guard services[name] == nil else { throw located(file, node, ["metadata", "name"], "Service \(name) is declared twice") }
            services[name] = ports
        case "EndpointSlice":
            guard apiVersion == "discovery.k8s.io/v1" || apiVersion == "discovery.k8s.io/v1beta1" else {
                throw located(file, node, ["apiVersion"], "EndpointSlice: apiVersion \"\(apiVersion)\" is not discovery.k8s.io/v1")
            }
            let object: EndpointSliceObject = try decode(node, file: file, kind: kind)
            try validate(file, node, kind) { () throws(APIServerValidation.Problem) in try APIServerValidation.check(object) }
            let info: EndpointSliceInfo?
            do { info = try object.sliceInfo() } catch { throw located(file, node, error.field, error.description) }
            guard let info else {
                throw located(file, node, ["metadata", "labels"], "EndpointSlice \(object.namespacedName): no \(EndpointSliceObject.serviceNameLabel) label")
            }
            guard slices[info.name] == nil else { throw located(file, node, ["metadata", "name"], "EndpointSlice \(info.name) is declared twice") }
            slices[info.name] = info
        case "":
            throw located(file, node, [], "object has no kind")
        default:
            ignoredKinds.append(kind)
        }
    }

    private func decode<T: Decodable>(_ node: Node, file: String, kind: String) throws(ManifestError) -> T {
        do {
            return try YAMLDecoder().decode(T.self, from: node)
        } catch let error as DecodingError {
            let (path, reason) = YAMLLocation.path(of: error)
            let field = ObjectRejection(kind: kind, object: "", field: path, reason: reason).fieldPath
            throw located(file, node, path, "\(kind) \(ManifestSet.objectName(node)): \(field): \(reason)")
        } catch {
            throw located(file, node, [], "\(kind): \(error)")
        }
    }

    /// Runs one object's API-server checks; a refusal names the file, the field's line and the rule.
    private func validate(_ file: String, _ node: Node, _ kind: String, _ check: () throws(APIServerValidation.Problem) -> Void) throws(ManifestError) {
        do { try check() } catch {
            throw located(file, node, error.path, "\(kind) \(ManifestSet.objectName(node)): \(error.field): \(error.reason)")
        }
    }

    private func located(_ file: String, _ node: Node, _ path: [String], _ message: String) -> ManifestError {
        let mark = YAMLLocation.mark(of: path, in: node)
        return ManifestError(file: file, line: mark?.line, column: mark?.column, message: message)
    }

    private static func objectName(_ node: Node) -> String {
        "\(node["metadata"]?["namespace"]?.string ?? "default")/\(node["metadata"]?["name"]?.string ?? "?")"
    }

    private static func error(from error: YamlError, file: String) -> ManifestError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ManifestError(file: file, line: mark.line, column: mark.column, message: "YAML: \(problem)")
        default:
            return ManifestError(file: file, message: "YAML: \(error)")
        }
    }
}
