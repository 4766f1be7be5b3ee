import KubernetesAPI

/// Which API serves endpoints on this cluster: kube-proxy's fallback from
/// `discovery.k8s.io/v1` to `v1beta1` to `v1/Endpoints`.
enum EndpointsAPI: Equatable, CustomStringConvertible {
    case endpointSlices(version: String)
    case endpoints

    var description: String {
        switch self {
        case .endpointSlices(let version): return "discovery.k8s.io/\(version) EndpointSlices"
        case .endpoints: return "v1 Endpoints"
        }
    }

    /// Asks the server which slice version it serves; a 404 on a group version means not served.
    /// Other errors are thrown (the caller retries).
    static func discover(client: APIClient) async throws -> EndpointsAPI {
        for version in ["v1", "v1beta1"] {
            do {
                let response = try await client.get("/apis/discovery.k8s.io/\(version)", query: [], timeout: .seconds(30))
                _ = try await response.body.collect(upTo: APIClient.maxErrorBody * 4)
                return .endpointSlices(version: version)
            } catch let error as APIStatusError where error.code == 404 {
                continue
            }
        }
        return .endpoints
    }
}
