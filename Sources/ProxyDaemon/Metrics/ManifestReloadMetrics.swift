import FileSource
import Prometheus
import Synchronization

/// `swift_kube_proxy_manifest_reloads_total{result="applied"|"rejected"}`: edits of the manifests the
/// file source took in, or refused (and kept the previous state).
final class ManifestReloadMetrics: Sendable {
    private let applied, rejected: Counter
    private let source: FileSource
    private let last = Mutex((applied: 0, rejected: 0))

    init(registry: PrometheusCollectorRegistry, source: FileSource) {
        let d = metric("swift_kube_proxy_manifest_reloads_total", "Reloads of the manifest files, by result.")
        applied = registry.makeCounter(descriptor: d, labels: [("result", "applied")])
        rejected = registry.makeCounter(descriptor: d, labels: [("result", "rejected")])
        self.source = source
    }

    func collect() {
        let now = source.reloadCounts
        let before = last.withLock { last in defer { last = (now.applied, now.rejected) }; return last }
        applied.increment(by: Int64(max(0, now.applied - before.applied)))
        rejected.increment(by: Int64(max(0, now.rejected - before.rejected)))
    }
}
