import Metrics

/// The counters this source keeps (swift-metrics; the daemon chooses the backend).
enum SourceMetrics {
    static let relists = "swift_kube_proxy_watch_relists_total"
    static let reconnects = "swift_kube_proxy_watch_reconnects_total"
    static let rejected = "swift_kube_proxy_objects_rejected_total"

    /// A full LIST made again after `410 Gone`.
    static func relisted(_ resource: String) {
        Counter(label: relists, dimensions: [("resource", resource)]).increment()
    }

    /// A WATCH made again after the connection dropped, stalled or failed.
    static func reconnected(_ resource: String) {
        Counter(label: reconnects, dimensions: [("resource", resource)]).increment()
    }

    /// An object skipped because it did not decode or validate.
    static func rejected(_ kind: String) {
        Counter(label: rejected, dimensions: [("kind", kind)]).increment()
    }
}
