import Foundation
import NIOSSL

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made with `openssl` into
/// a temporary directory when a test needs them.
struct TestCertificates {
    let directory: TemporaryDirectory
    var caPath: String { directory.path + "/ca.crt" }
    var serverCertPath: String { directory.path + "/server.crt" }
    var serverKeyPath: String { directory.path + "/server.key" }
    var clientCertPath: String { directory.path + "/client.crt" }
    var clientKeyPath: String { directory.path + "/client.key" }

    struct OpenSSLFailed: Error { var status: Int32 }

    static func make() throws -> TestCertificates {
        let certs = TestCertificates(directory: TemporaryDirectory())
        let script = """
            set -e
            cd '\(certs.directory.path)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca >/dev/null 2>&1
            printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 >/dev/null 2>&1
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext >/dev/null 2>&1
            printf 'extendedKeyUsage=clientAuth\\n' > client.ext
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout client.key -out client.csr -subj '/CN=system:kube-proxy/O=system:node-proxier' >/dev/null 2>&1
            openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 -extfile client.ext >/dev/null 2>&1
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw OpenSSLFailed(status: process.terminationStatus) }
        return certs
    }

    /// The server's TLS; with `requireClientCertificate` it accepts only clients signed by the CA.
    func serverTLS(requireClientCertificate: Bool) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(serverCertPath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: serverKeyPath, format: .pem)))
        if requireClientCertificate {
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caPath))
        }
        return tls
    }
}
