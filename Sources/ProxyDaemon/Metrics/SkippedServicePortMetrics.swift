import Prometheus

/// `swift_kube_proxy_sync_skipped_service_ports_total{backend}`: Service ports a rule backend left
/// out of a sync (per address family) because it could not program them, while the rest synced.
/// Each sync that renders such a port counts it again, so a rate above zero means one is still out.
final class SkippedServicePortMetrics: Sendable {
    private let skipped: Counter

    init(registry: PrometheusCollectorRegistry, backend: String) {
        skipped = registry.makeCounter(
            descriptor: metric("swift_kube_proxy_sync_skipped_service_ports_total",
                               "Service ports left out of a rule sync because the backend could not program them"),
            labels: [("backend", backend)])
    }

    func skipped(_ count: Int) {
        if count > 0 { skipped.increment(by: Int64(count)) }
    }
}
