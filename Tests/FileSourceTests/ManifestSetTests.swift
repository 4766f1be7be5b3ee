import FileSource
import ProxyModel
import Testing

@Suite struct ManifestSetTests {
    static let good = """
    apiVersion: v1
    kind: Service
    metadata:
      name: web
      namespace: default
    spec:
      type: NodePort
      clusterIP: 10.96.0.80
      ports:
      - name: http
        port: 80
        targetPort: 8080
        nodePort: 30080
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata:
      name: web-1
      labels:
        kubernetes.io/service-name: web
    addressType: IPv4
    ports:
    - name: http
      port: 8080
    endpoints:
    - addresses: ["10.0.0.1"]
    """

    @Test func readsServicesAndSlicesFromMultiDocumentYAML() throws {
        var set = ManifestSet()
        try set.add(yaml: Self.good, file: "s.yaml")
        let web = NamespacedName(namespace: "default", name: "web")
        #expect(set.services[web]?.first?.nodePort == 30080)
        #expect(set.slices[NamespacedName(namespace: "default", name: "web-1")]?.service == web)
    }

    @Test func readsAListAsKubectlPrintsIt() throws {
        var set = ManifestSet()
        try set.add(yaml: """
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: Service
          metadata: {name: a}
          spec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}
        - apiVersion: apps/v1
          kind: Deployment
          metadata: {name: a}
        """, file: "list.yaml")
        #expect(set.services.count == 1)
        #expect(set.ignoredKinds == ["Deployment"])
    }

    @Test func yamlSyntaxErrorNamesFileAndLine() {
        var set = ManifestSet()
        #expect {
            try set.add(yaml: "kind: Service\nmetadata:\n  name: [unclosed\n", file: "broken.yaml")
        } throws: { error in
            let e = error as? ManifestError
            return e?.file == "broken.yaml" && e?.line != nil && e!.description.hasPrefix("broken.yaml:")
        }
    }

    @Test func wrongTypeNamesTheLineOfTheField() {
        var set = ManifestSet()
        let text = Self.good.replacingOccurrences(of: "    port: 80\n", with: "    port: eighty\n")
        do {
            try set.add(yaml: text, file: "s.yaml")
            Issue.record("port: eighty was accepted")
        } catch {
            #expect(error.line == 11)
            #expect(error.message.contains("spec.ports[0].port"))
        }
    }

    @Test func invalidValueNamesTheLineOfTheField() {
        var set = ManifestSet()
        let text = Self.good.replacingOccurrences(of: "10.0.0.1", with: "10.0.0.999")
        do {
            try set.add(yaml: text, file: "s.yaml")
            Issue.record("a bad address was accepted")
        } catch {
            #expect(error.line == 26)
            #expect(error.description.contains("endpoints[0].addresses[0]"))
        }
    }

    @Test func duplicateServiceIsAnError() {
        var set = ManifestSet()
        #expect(throws: ManifestError.self) {
            try set.add(yaml: Self.good + "\n---\n" + Self.good.components(separatedBy: "---")[0], file: "s.yaml")
        }
    }
}
