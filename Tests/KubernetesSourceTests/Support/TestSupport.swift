import Foundation
import KubernetesSource
import Logging
import Metrics
import ProxyModel
import Synchronization

enum Fixture {
    /// A fixture file from `Fixtures/`, as written from the Kubernetes API reference.
    static func data(_ name: String) -> Data {
        let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil)!
        return try! Data(contentsOf: url)
    }
}

enum Collections {
    static let services = "/api/v1/services"
    static let slices = "/apis/discovery.k8s.io/v1/endpointslices"
    static let slicesBeta = "/apis/discovery.k8s.io/v1beta1/endpointslices"
    static let endpoints = "/api/v1/endpoints"
    static let nodes = "/api/v1/nodes"
}

/// Polls until the condition holds, a bounded number of times; false if it never did.
func eventually(tries: Int = 1000, _ condition: () async throws -> Bool) async rethrows -> Bool {
    for _ in 0..<tries {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return false
}

/// A temporary directory removed at the end of the test.
final class TemporaryDirectory: Sendable {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "kube-source-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    func write(_ name: String, _ contents: String, executable: Bool = false) -> String {
        let file = path + "/" + name
        FileManager.default.createFile(atPath: file, contents: Data(contents.utf8),
                                       attributes: executable ? [.posixPermissions: 0o755] : nil)
        return file
    }
}

/// A kubeconfig with one cluster, one user and one context, in kubectl's spelling.
func kubeconfig(server: String, clusterExtra: String = "", user: String) -> String {
    """
    apiVersion: v1
    kind: Config
    clusters:
    - name: test
      cluster:
        server: \(server)
    \(clusterExtra.isEmpty ? "" : clusterExtra.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
    users:
    - name: tester
      user:
    \(user.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
    contexts:
    - name: test
      context:
        cluster: test
        user: tester
    current-context: test
    """
}

/// Settings that make a test's retries quick.
func quickReflector(stall: Duration = .seconds(30), pageSize: Int = 500) -> ReflectorSettings {
    ReflectorSettings(pageSize: pageSize, watchTimeout: .seconds(300), stallTimeout: stall,
                      backoff: Backoff(initial: .milliseconds(20), cap: .milliseconds(200), jitter: 0.2),
                      connectTimeout: .milliseconds(300))
}

/// A running source against a server, and the store it feeds.
struct RunningSource {
    let store: ClusterStore
    let task: Task<Void, any Error>
    let directory: TemporaryDirectory
    /// This source's own counters.
    let metrics: TestMetrics

    static func start(
        server: FakeAPIServer, nodeName: String = "node-a", endpointsSource: KubernetesSourceConfig.EndpointsSource = .endpointSlices,
        reflector: ReflectorSettings = quickReflector(), proxyName: String? = nil
    ) throws -> RunningSource {
        let directory = TemporaryDirectory()
        let path = directory.write("kubeconfig", kubeconfig(server: server.url, user: "token: test-token"))
        let store = ClusterStore(node: NodeInfo(name: nodeName))
        let metrics = TestMetrics()
        let config = KubernetesSourceConfig(
            kubeconfigPath: path, nodeName: nodeName, proxyName: proxyName, endpointsSource: endpointsSource,
            reflector: reflector, environment: [:], metricsFactory: metrics)
        let source = try KubernetesSource(config: config, store: store, logger: Logger(label: "test"))
        return RunningSource(store: store, task: Task { try await source.run() }, directory: directory, metrics: metrics)
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }

    func snapshot() -> ProxySnapshot { store.takeSnapshot().snapshot }
}

/// A ClusterIP Service `bulk/svc-N` at 10.97.0.N:80, as the API serves it.
func numberedService(_ n: Int) -> Data {
    Data(#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"svc-\#(n)","namespace":"bulk"},"spec":{"ports":[{"protocol":"TCP","port":80,"targetPort":8080}],"clusterIP":"10.97.0.\#(n)","clusterIPs":["10.97.0.\#(n)"],"type":"ClusterIP"}}"#.utf8)
}

func portName(_ namespace: String, _ name: String, _ port: String = "", _ proto: TransportProtocol = .tcp) -> ServicePortName {
    ServicePortName(service: NamespacedName(namespace: namespace, name: name), port: port, protocol: proto)
}

/// Counters recorded in-process, so tests can see that a relist or a rejection was counted.
final class TestMetrics: MetricsFactory, Sendable {
    private let values = Mutex<[String: Int64]>([:])

    func value(_ label: String, _ dimensions: [(String, String)]) -> Int64 {
        values.withLock { $0[Self.key(label, dimensions)] ?? 0 }
    }

    static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        label + "{" + dimensions.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
    }

    final class Count: CounterHandler, Sendable {
        let key: String
        let metrics: TestMetrics
        init(key: String, metrics: TestMetrics) { self.key = key; self.metrics = metrics }
        func increment(by amount: Int64) { metrics.values.withLock { $0[key, default: 0] += amount } }
        func reset() { metrics.values.withLock { $0[key] = 0 } }
    }

    final class Ignored: RecorderHandler, TimerHandler, Sendable {
        func record(_ value: Int64) {}
        func record(_ value: Double) {}
        func recordNanoseconds(_ duration: Int64) {}
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        Count(key: Self.key(label, dimensions), metrics: self)
    }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { Ignored() }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { Ignored() }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}
