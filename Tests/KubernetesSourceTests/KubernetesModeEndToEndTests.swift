import EndToEndSupport
import Foundation
import Testing

/// The real binary in `source: kubernetes` mode against the in-process API server: endpoints added,
/// changed and removed through the API while traffic flows through a NodePort.
@Suite(.serialized) struct KubernetesModeEndToEndTests {
    static func service(nodePort: UInt16) -> Data {
        Data(#"""
        {"kind":"Service","apiVersion":"v1","metadata":{"name":"web","namespace":"shop","uid":"4f1c"},
         "spec":{"type":"NodePort","clusterIP":"10.96.7.7","clusterIPs":["10.96.7.7"],
                 "ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080,"nodePort":\#(nodePort)}]}}
        """#.utf8)
    }

    static func slice(_ name: String, backendPort: UInt16) -> Data {
        Data(#"""
        {"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1",
         "metadata":{"name":"\#(name)","namespace":"shop","labels":{"kubernetes.io/service-name":"web"}},
         "addressType":"IPv4","ports":[{"name":"http","protocol":"TCP","port":\#(backendPort)}],
         "endpoints":[{"addresses":["127.0.0.1"],"conditions":{"ready":true,"serving":true,"terminating":false},"nodeName":"node-a"}]}
        """#.utf8)
    }

    @Test func endpointChangesThroughTheAPIReachTheNodePortWhileTrafficFlows() async throws {
        let a = try LineBackend(name: "a"), b = try LineBackend(name: "b")
        defer { a.stop(); b.stop() }
        let server = try await FakeAPIServer()
        let nodePort = freeNodePort()
        server.put(Collections.services, Self.service(nodePort: nodePort))
        server.put(Collections.slices, Self.slice("web-1", backendPort: a.port))
        server.put(Collections.nodes, Fixture.data("node-a.json"))

        let directory = TemporaryDirectory()
        let kubeconfigPath = directory.write("kubeconfig", kubeconfig(server: server.url, user: "token: test-token"))
        let proxy = try ProxyProcess(config: """
            mode: userspace
            source: kubernetes
            kubeconfig: \(kubeconfigPath)
            hostnameOverride: node-a
            nodePortAddresses: ["127.0.0.1"]
            minSyncPeriod: 50ms
            userspace: {redirects: false}   # in the host's namespace: leave its nftables alone
            """, manifests: "")
        defer { proxy.stop() }

        #expect(await poll({ fetchLine(port: nodePort) }, until: { $0 == "a" }) == "a", "\(proxy.stderr)")

        // The endpoint moves: the next connections reach the new one.
        server.put(Collections.slices, Self.slice("web-1", backendPort: b.port))
        #expect(await poll({ fetchLine(port: nodePort) }, until: { $0 == "b" }) == "b")

        // A second slice adds an endpoint: both take turns.
        server.put(Collections.slices, Self.slice("web-2", backendPort: a.port))
        let seen = await poll({ Set((0..<4).compactMap { _ in fetchLine(port: nodePort) }) }, until: { $0 == ["a", "b"] })
        #expect(seen == ["a", "b"])

        // Every endpoint gone: connections are reset, not left hanging.
        server.delete(Collections.slices, namespace: "shop", name: "web-1")
        server.delete(Collections.slices, namespace: "shop", name: "web-2")
        #expect(await poll({ fetchLine(port: nodePort) }, until: { $0 == nil }) == nil)

        // The Service deleted: its NodePort closes; the API server going away changes nothing else.
        server.delete(Collections.services, namespace: "shop", name: "web")
        #expect(await poll({ ProxyProcess.isListening(port: nodePort) }, until: { !$0 }) == false)
        await server.stop()
        #expect(proxy.stop() == 0)
    }
}
