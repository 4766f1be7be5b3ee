/// Everything needed to talk to one API server: where it is, how to trust it, and who we are.
/// Resolved once at start from a kubeconfig or the in-cluster service account.
public struct ClusterConnection: Sendable, Equatable {
    /// `https://host:port`, possibly with a path prefix, never with a trailing slash.
    public var server: String
    /// PEM bundle to trust instead of the system roots.
    public var certificateAuthorityPEM: [UInt8]?
    public var insecureSkipTLSVerify: Bool
    public var token: TokenSource?
    public var clientCertificate: ClientCertificate?
    public var exec: ExecCredentialPlugin.Config?
    /// Where this came from, for the startup log line (`kubeconfig /etc/kube.yaml, context prod`).
    public var origin: String

    public init(server: String, certificateAuthorityPEM: [UInt8]? = nil, insecureSkipTLSVerify: Bool = false,
                token: TokenSource? = nil, clientCertificate: ClientCertificate? = nil,
                exec: ExecCredentialPlugin.Config? = nil, origin: String) {
        var server = server
        while server.hasSuffix("/") { server.removeLast() }
        self.server = server
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.token = token
        self.clientCertificate = clientCertificate
        self.exec = exec
        self.origin = origin
    }
}

/// A bearer token, given inline or read from a file that may be rotated under us (the projected
/// service-account token is, hourly); a file is read again for every request.
public enum TokenSource: Sendable, Equatable {
    case inline(String)
    case file(String)
}

/// A client certificate and its private key, both PEM.
public struct ClientCertificate: Sendable, Equatable {
    public var certificatePEM: [UInt8]
    public var privateKeyPEM: [UInt8]

    public init(certificatePEM: [UInt8], privateKeyPEM: [UInt8]) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }
}

/// A configuration that cannot be used, saying what is missing and where we looked.
public struct ConnectionConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

extension ClusterConnection {
    public static let defaultServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// client-go's order: an explicit kubeconfig path, else the files in `KUBECONFIG`, else the
    /// in-cluster service account.
    public static func resolve(
        kubeconfigPath: String?, context: String?, environment: [String: String],
        serviceAccountDirectory: String = defaultServiceAccountDirectory
    ) throws(ConnectionConfigError) -> ClusterConnection {
        if let path = kubeconfigPath, !path.isEmpty {
            return try Kubeconfig.load(paths: [path], origin: "kubeconfig \(path)").connection(context: context)
        }
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            let paths = list.split(separator: ":").map(String.init).filter { !$0.isEmpty }
            return try Kubeconfig.load(paths: paths, origin: "KUBECONFIG=\(list)").connection(context: context)
        }
        do {
            return try InClusterConfig.connection(environment: environment, serviceAccountDirectory: serviceAccountDirectory)
        } catch {
            throw ConnectionConfigError(
                "no Kubernetes connection: no kubeconfig was given (--kubeconfig or the kubeconfig key), KUBECONFIG is not set, and the in-cluster config is not usable: \(error.description)")
        }
    }
}
