import Foundation
@testable import KubernetesSource
import Testing

@Suite struct ConnectionConfigTests {
    let dir = TemporaryDirectory()

    @Test func theCurrentContextGivesServerCAAndToken() throws {
        dir.write("ca.crt", "CA-PEM")
        let path = dir.write("config", kubeconfig(server: "https://10.0.0.1:6443/", clusterExtra: "certificate-authority: ca.crt", user: "token: abc"))
        let c = try ClusterConnection.resolve(kubeconfigPath: path, context: nil, environment: [:])
        #expect(c.server == "https://10.0.0.1:6443")
        #expect(c.certificateAuthorityPEM == Array("CA-PEM".utf8))
        #expect(c.token == .inline("abc"))
        #expect(c.origin.contains(path))
    }

    @Test func dataFieldsAreBase64AndTokenFilesAreKeptAsFiles() throws {
        let token = dir.write("token", "rotating\n")
        let b64 = { (s: String) in Data(s.utf8).base64EncodedString() }
        let path = dir.write("config", kubeconfig(
            server: "https://api.example:443", clusterExtra: "certificate-authority-data: \(b64("CA"))",
            user: "tokenFile: \(token)\nclient-certificate-data: \(b64("CERT"))\nclient-key-data: \(b64("KEY"))"))
        let c = try ClusterConnection.resolve(kubeconfigPath: path, context: nil, environment: [:])
        #expect(c.certificateAuthorityPEM == Array("CA".utf8))
        #expect(c.token == .file(token))
        #expect(c.clientCertificate == ClientCertificate(certificatePEM: Array("CERT".utf8), privateKeyPEM: Array("KEY".utf8)))
    }

    @Test func aNamedContextIsUsedOverTheCurrentOne() throws {
        let path = dir.write("config", """
            apiVersion: v1
            kind: Config
            clusters:
            - name: prod
              cluster: {server: "https://prod:6443", insecure-skip-tls-verify: true}
            - name: dev
              cluster: {server: "https://dev:6443"}
            users:
            - name: u
              user: {token: t}
            contexts:
            - name: prod
              context: {cluster: prod, user: u}
            - name: dev
              context: {cluster: dev, user: u}
            current-context: dev
            """)
        let c = try ClusterConnection.resolve(kubeconfigPath: path, context: "prod", environment: [:])
        #expect(c.server == "https://prod:6443")
        #expect(c.insecureSkipTLSVerify)
    }

    @Test func kubeconfigFilesInKUBECONFIGAreMergedFirstOneWinning() throws {
        let first = dir.write("a", """
            apiVersion: v1
            kind: Config
            current-context: one
            contexts:
            - name: one
              context: {cluster: c1, user: u1}
            """)
        let second = dir.write("b", """
            apiVersion: v1
            kind: Config
            current-context: two
            clusters:
            - name: c1
              cluster: {server: "https://merged:6443"}
            users:
            - name: u1
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1
                  command: ./plugin.sh
                  args: [--cluster, c1]
                  env: [{name: REGION, value: eu}]
            """)
        let c = try ClusterConnection.resolve(kubeconfigPath: nil, context: nil,
                                              environment: ["KUBECONFIG": "\(dir.path)/missing:\(first):\(second)"])
        #expect(c.server == "https://merged:6443")
        #expect(c.exec?.command == dir.path + "/./plugin.sh")
        #expect(c.exec?.arguments == ["--cluster", "c1"])
        #expect(c.exec?.environment.first?.1 == "eu")
    }

    @Test func inClusterUsesTheServiceAccountDirectory() throws {
        dir.write("token", "sa-token")
        dir.write("ca.crt", "SA-CA")
        let c = try ClusterConnection.resolve(
            kubeconfigPath: nil, context: nil,
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"],
            serviceAccountDirectory: dir.path)
        #expect(c.server == "https://[fd00::1]:443")
        #expect(c.token == .file(dir.path + "/token"))
        #expect(c.certificateAuthorityPEM == Array("SA-CA".utf8))
    }

    func message(_ body: () throws(ConnectionConfigError) -> ClusterConnection) -> String {
        do { _ = try body(); return "" } catch { return error.description }
    }

    @Test func eachMisconfigurationSaysWhatIsMissingAndWhereItLooked() {
        let none = message { () throws(ConnectionConfigError) in try ClusterConnection.resolve(kubeconfigPath: nil, context: nil, environment: [:], serviceAccountDirectory: dir.path) }
        #expect(none.contains("KUBECONFIG is not set") && none.contains("KUBERNETES_SERVICE_HOST"))

        let noToken = message { () throws(ConnectionConfigError) in
            try ClusterConnection.resolve(kubeconfigPath: nil, context: nil,
                                          environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"],
                                          serviceAccountDirectory: dir.path + "/nowhere")
        }
        #expect(noToken.contains(dir.path + "/nowhere/token"))

        let missingFile = message { () throws(ConnectionConfigError) in try ClusterConnection.resolve(kubeconfigPath: dir.path + "/nope", context: nil, environment: [:]) }
        #expect(missingFile.contains(dir.path + "/nope") && missingFile.contains("does not exist"))

        let path = dir.write("config", kubeconfig(server: "https://x:1", clusterExtra: "certificate-authority: missing-ca.pem", user: "client-certificate: c.pem"))
        let badContext = message { () throws(ConnectionConfigError) in try ClusterConnection.resolve(kubeconfigPath: path, context: "staging", environment: [:]) }
        #expect(badContext.contains("context \"staging\" is not defined") && badContext.contains("test"))
        let missingCA = message { () throws(ConnectionConfigError) in try ClusterConnection.resolve(kubeconfigPath: path, context: nil, environment: [:]) }
        #expect(missingCA.contains(dir.path + "/missing-ca.pem") && missingCA.contains("cluster \"test\""))

        let noServer = dir.write("config2", kubeconfig(server: "", user: "token: t"))
        #expect(message { () throws(ConnectionConfigError) in try ClusterConnection.resolve(kubeconfigPath: noServer, context: nil, environment: [:]) }.contains("server is not set"))
    }
}
