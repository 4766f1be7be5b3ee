import Foundation
import KubernetesSource
import Logging
import ProxyModel
import Testing

/// Token, client-certificate and exec-plugin authentication against a TLS server with a test CA.
@Suite(.serialized) struct AuthenticationTests {
    func start(_ server: FakeAPIServer, kubeconfigText: String, in dir: TemporaryDirectory) throws -> (ClusterStore, Task<Void, any Error>) {
        let path = dir.write("kubeconfig", kubeconfigText)
        let store = ClusterStore(node: NodeInfo(name: "node-a"))
        let config = KubernetesSourceConfig(kubeconfigPath: path, nodeName: "node-a", reflector: quickReflector(), environment: [:])
        let source = try KubernetesSource(config: config, store: store, logger: Logger(label: "test"))
        return (store, Task { try await source.run() })
    }

    func populate(_ server: FakeAPIServer) {
        server.put(Collections.services, Fixture.data("service-web.json"))
        server.put(Collections.slices, Fixture.data("endpointslice-web.json"))
        server.put(Collections.nodes, Fixture.data("node-a.json"))
    }

    @Test func aBearerTokenOverTLSVerifiedByTheKubeconfigCA() async throws {
        let certs = try TestCertificates.make()
        let server = try await FakeAPIServer(tls: certs.serverTLS(requireClientCertificate: false))
        populate(server)
        server.setAcceptedTokens(["s3cret"])
        let dir = TemporaryDirectory()
        let (store, task) = try start(server, kubeconfigText: kubeconfig(
            server: server.url, clusterExtra: "certificate-authority: \(certs.caPath)", user: "token: s3cret"), in: dir)
        #expect(await eventually { store.hasSynced })
        #expect(store.takeSnapshot().snapshot.servicePorts.count == 2)
        task.cancel()
        _ = await task.result
        await server.stop()
    }

    @Test func aWrongTokenIsRefusedAndNothingSyncs() async throws {
        let server = try await FakeAPIServer()
        populate(server)
        server.setAcceptedTokens(["right"])
        let dir = TemporaryDirectory()
        let (store, task) = try start(server, kubeconfigText: kubeconfig(server: server.url, user: "token: wrong"), in: dir)
        #expect(await eventually { server.requests.count >= 6 })
        #expect(!store.hasSynced)
        #expect(store.takeSnapshot().snapshot.servicePorts.isEmpty)
        task.cancel()
        _ = await task.result
        await server.stop()
    }

    @Test func aServerWhoseCertificateIsNotSignedByTheCAIsNotTrusted() async throws {
        let certs = try TestCertificates.make()
        let other = try TestCertificates.make()
        let server = try await FakeAPIServer(tls: certs.serverTLS(requireClientCertificate: false))
        populate(server)
        let dir = TemporaryDirectory()
        let (store, task) = try start(server, kubeconfigText: kubeconfig(
            server: server.url, clusterExtra: "certificate-authority: \(other.caPath)", user: "token: t"), in: dir)
        // Requests never reach the handler: the handshake fails.
        #expect(await eventually { server.tlsFailures >= 3 })
        #expect(server.requests.isEmpty)
        #expect(!store.hasSynced)
        task.cancel()
        _ = await task.result
        await server.stop()
    }

    @Test func aClientCertificateFromFiles() async throws {
        let certs = try TestCertificates.make()
        let server = try await FakeAPIServer(tls: certs.serverTLS(requireClientCertificate: true))
        populate(server)
        let dir = TemporaryDirectory()
        let (store, task) = try start(server, kubeconfigText: kubeconfig(
            server: server.url, clusterExtra: "certificate-authority: \(certs.caPath)",
            user: "client-certificate: \(certs.clientCertPath)\nclient-key: \(certs.clientKeyPath)"), in: dir)
        #expect(await eventually { store.hasSynced })
        #expect(server.requests.allSatisfy { $0.authorization == nil })
        task.cancel()
        _ = await task.result
        await server.stop()
    }

    @Test func aRotatedTokenFileIsReadAgain() async throws {
        let server = try await FakeAPIServer()
        populate(server)
        let dir = TemporaryDirectory()
        let tokenPath = dir.write("token", "first\n")
        let (store, task) = try start(server, kubeconfigText: kubeconfig(server: server.url, user: "tokenFile: \(tokenPath)"), in: dir)
        #expect(await eventually { store.hasSynced && server.liveWatchCount == 3 })
        dir.write("token", "second\n")
        server.endWatches()
        #expect(await eventually { server.requests.last?.authorization == "Bearer second" })
        #expect(server.requests.first?.authorization == "Bearer first")
        task.cancel()
        _ = await task.result
        await server.stop()
    }

    @Test func anExecPluginTokenIsUsedAndRenewedWhenItExpires() async throws {
        let server = try await FakeAPIServer()
        populate(server)
        let dir = TemporaryDirectory()
        // Each run hands out a new token; the first one has already expired, so it is renewed.
        dir.write("plugin.sh", """
            #!/bin/sh
            n=$(cat "$(dirname "$0")/runs" 2>/dev/null || echo 0)
            n=$((n + 1))
            echo $n > "$(dirname "$0")/runs"
            [ "$1" = "--cluster=test" ] || exit 3
            case "$KUBERNETES_EXEC_INFO" in *'"kind":"ExecCredential"'*) ;; *) exit 4 ;; esac
            if [ $n -eq 1 ]; then expiry=2020-01-01T00:00:00Z; else expiry=2999-01-01T00:00:00Z; fi
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s-%s","expirationTimestamp":"%s"}}' "$PREFIX" $n $expiry
            """, executable: true)
        server.setAcceptedTokens(["exec-1", "exec-2"])
        let (store, task) = try start(server, kubeconfigText: kubeconfig(server: server.url, user: """
            exec:
              apiVersion: client.authentication.k8s.io/v1
              command: ./plugin.sh
              args: ["--cluster=test"]
              env:
              - name: PREFIX
                value: exec
              interactiveMode: Never
            """), in: dir)
        #expect(await eventually { store.hasSynced })
        let used = Set(server.requests.compactMap(\.authorization))
        #expect(used.contains("Bearer exec-2"))
        let runs = try String(contentsOfFile: dir.path + "/runs", encoding: .utf8)
        #expect(runs.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
        task.cancel()
        _ = await task.result
        await server.stop()
    }

    @Test func anExecPluginIsRunAgainAfterA401() async throws {
        let server = try await FakeAPIServer()
        populate(server)
        let dir = TemporaryDirectory()
        dir.write("plugin.sh", """
            #!/bin/sh
            n=$(cat "$(dirname "$0")/runs" 2>/dev/null || echo 0)
            n=$((n + 1))
            echo $n > "$(dirname "$0")/runs"
            printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t%s"}}' $n
            """, executable: true)
        server.setAcceptedTokens(["t1"])
        let (store, task) = try start(server, kubeconfigText: kubeconfig(server: server.url, user: """
            exec:
              apiVersion: client.authentication.k8s.io/v1beta1
              command: ./plugin.sh
            """), in: dir)
        #expect(await eventually { store.hasSynced && server.liveWatchCount == 3 })
        server.setAcceptedTokens(["t2"])
        server.endWatches()
        #expect(await eventually { server.requests.last?.authorization == "Bearer t2" && server.liveWatchCount == 3 })
        task.cancel()
        _ = await task.result
        await server.stop()
    }

    @Test func anExecPluginClientCertificate() async throws {
        let certs = try TestCertificates.make()
        let server = try await FakeAPIServer(tls: certs.serverTLS(requireClientCertificate: true))
        populate(server)
        let dir = TemporaryDirectory()
        // The plugin prints the PEM files as JSON strings (newlines escaped).
        dir.write("plugin.sh", """
            #!/bin/sh
            esc() { awk '{printf "%s\\\\n", $0}' "$1"; }
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"%s","clientKeyData":"%s"}}' "$(esc \(certs.clientCertPath))" "$(esc \(certs.clientKeyPath))"
            """, executable: true)
        let (store, task) = try start(server, kubeconfigText: kubeconfig(
            server: server.url, clusterExtra: "certificate-authority: \(certs.caPath)", user: """
            exec:
              apiVersion: client.authentication.k8s.io/v1
              command: \(dir.path)/plugin.sh
            """), in: dir)
        #expect(await eventually { store.hasSynced })
        #expect(server.tlsFailures == 0)
        task.cancel()
        _ = await task.result
        await server.stop()
    }
}
