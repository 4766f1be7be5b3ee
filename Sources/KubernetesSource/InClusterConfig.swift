import Foundation

/// The connection a pod gets: the API server's Service address from the environment, and the
/// mounted service-account token and CA bundle.
enum InClusterConfig {
    static func connection(environment: [String: String], serviceAccountDirectory dir: String) throws(ConnectionConfigError) -> ClusterConnection {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty else {
            throw ConnectionConfigError("KUBERNETES_SERVICE_HOST is not set (not running in a pod?)")
        }
        guard let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty else {
            throw ConnectionConfigError("KUBERNETES_SERVICE_HOST is set but KUBERNETES_SERVICE_PORT is not")
        }
        let tokenPath = dir + "/token"
        let caPath = dir + "/ca.crt"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw ConnectionConfigError("the service-account token \(tokenPath) does not exist or cannot be read")
        }
        guard let ca = FileManager.default.contents(atPath: caPath) else {
            throw ConnectionConfigError("the service-account CA bundle \(caPath) does not exist or cannot be read")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return ClusterConnection(
            server: "https://\(hostPart):\(port)", certificateAuthorityPEM: Array(ca),
            token: .file(tokenPath), origin: "in-cluster service account \(dir)")
    }
}
