import ProxyDaemon

/// Target 3: our config file and kube-proxy's KubeProxyConfiguration (v1alpha1/v1alpha2), both read
/// by `ProxyConfig.parse` (it tells them apart by apiVersion/kind), with defaulting and validation.
enum ConfigTarget {
    static func run(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        do {
            let config = try ProxyConfig.parse(yaml: text, file: "fuzz.yaml")
            _ = config.warnings
        } catch {
            _ = error.description
        }
    }
}
