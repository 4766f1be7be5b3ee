import Metrics

/// The counters this source keeps, made by the given swift-metrics factory (the daemon's, which
/// is `MetricsSystem.factory` unless a test brings its own).
struct SourceMetrics: Sendable {
    static let relists = "swift_kube_proxy_watch_relists_total"
    static let reconnects = "swift_kube_proxy_watch_reconnects_total"
    static let rejected = "swift_kube_proxy_objects_rejected_total"

    let factory: any MetricsFactory

    /// A full LIST made again after `410 Gone`.
    func relisted(_ resource: String) {
        Counter(label: Self.relists, dimensions: [("resource", resource)], factory: factory).increment()
    }

    /// A WATCH made again after the connection dropped, stalled or failed.
    func reconnected(_ resource: String) {
        Counter(label: Self.reconnects, dimensions: [("resource", resource)], factory: factory).increment()
    }

    /// An object skipped because it did not decode or validate.
    func rejected(_ kind: String) {
        Counter(label: Self.rejected, dimensions: [("kind", kind)], factory: factory).increment()
    }
}
