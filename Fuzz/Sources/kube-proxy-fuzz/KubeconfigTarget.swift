import Foundation
import KubernetesSource

/// Target 4: a kubeconfig, loaded from a file as `--kubeconfig` does and resolved to a connection
/// (current-context, cluster, user: token, client certificate, exec plugin settings; not run).
enum KubeconfigTarget {
    /// One file per process, rewritten for each input; the directory also anchors relative paths.
    static let path: String = {
        let dir = NSTemporaryDirectory() + "kube-proxy-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir + "/kubeconfig"
    }()

    static func run(_ bytes: [UInt8]) {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return }
        do {
            let connection = try ClusterConnection.resolve(kubeconfigPath: path, context: nil, environment: [:])
            _ = connection.server
        } catch {
            _ = error.description
        }
    }
}
