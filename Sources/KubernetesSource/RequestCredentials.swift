import Foundation
import NIOSSL

/// What each request carries: the bearer token (read fresh from a token file, or from the exec
/// plugin) and the TLS configuration (trust roots, and the client certificate, which an exec plugin
/// may also hand out and rotate).
final class RequestCredentials: Sendable {
    struct Current: Sendable {
        var authorization: String?
        var tls: TLSConfiguration
        /// What the exec plugin gave, if it was used.
        var execCredential: ExecCredentialPlugin.Credential?
    }

    private let connection: ClusterConnection
    private let baseTLS: TLSConfiguration
    let plugin: ExecCredentialPlugin?

    init(connection: ClusterConnection, plugin: ExecCredentialPlugin? = nil) throws(ConnectionConfigError) {
        self.connection = connection
        self.plugin = plugin ?? connection.exec.map { ExecCredentialPlugin(config: $0) }
        baseTLS = try Self.tls(for: connection, certificate: connection.clientCertificate)
    }

    func current() async throws -> Current {
        var token: String?
        switch connection.token {
        case .inline(let t)?: token = t
        case .file(let path)?:
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConnectionConfigError("token file \(path) can no longer be read")
            }
            token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        case nil: break
        }
        var tls = baseTLS
        var used: ExecCredentialPlugin.Credential?
        if let plugin {
            let credential = try await plugin.credential()
            used = credential
            if let t = credential.token { token = t }
            if let cert = credential.clientCertificate {
                tls = try Self.tls(for: connection, certificate: cert)
            }
        }
        return Current(authorization: token.map { "Bearer \($0)" }, tls: tls, execCredential: used)
    }

    static func tls(for connection: ClusterConnection, certificate: ClientCertificate?) throws(ConnectionConfigError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        // A TLS 1.3 peer need not answer close_notify; a connection we are done with (a cancelled
        // watch, a shutdown) should not hold up the exit for NIOSSL's default of 5 s.
        tls.shutdownTimeout = .milliseconds(250)
        if connection.insecureSkipTLSVerify {
            tls.certificateVerification = .none
        } else if let ca = connection.certificateAuthorityPEM {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
            } catch {
                throw ConnectionConfigError("\(connection.origin): the certificate authority is not a PEM certificate bundle: \(error)")
            }
        }
        if let certificate {
            do {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate.certificatePEM).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: certificate.privateKeyPEM, format: .pem))
            } catch {
                throw ConnectionConfigError("\(connection.origin): the client certificate or key is not valid PEM: \(error)")
            }
        }
        return tls
    }
}
