import Prometheus
import ProxyModel
import Synchronization

/// Everything `/metrics` shows: one Prometheus registry per daemon (so tests can run several), the
/// sync metrics the runner records, and collectors that refresh pull-style values (process, proxy
/// counters) right before each scrape.
public final class ProxyMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let sync: SyncMetrics
    private let collectors: Mutex<[@Sendable () -> Void]>

    /// `families`: those the node programs, one `ip_family` series each (upstream's per-family proxiers).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), families: [IPAddress.Family] = [.ipv4, .ipv6]) {
        self.registry = registry
        sync = SyncMetrics(registry: registry, families: families)
        collectors = Mutex([])
        let process = ProcessMetrics(registry: registry)
        addCollector { process.collect() }
    }

    /// A swift-metrics factory writing into this registry (for modules that count through swift-metrics,
    /// such as the Kubernetes source's watch counters).
    public var metricsFactory: PrometheusMetricsFactory { PrometheusMetricsFactory(registry: registry) }

    /// Registers a refresh that runs before every scrape.
    public func addCollector(_ collect: @escaping @Sendable () -> Void) {
        collectors.withLock { $0.append(collect) }
    }

    /// The Prometheus text exposition format (version 0.0.4).
    public func render() -> String {
        for collect in collectors.withLock({ $0 }) { collect() }
        return registry.emitToString()
    }

    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}

/// A name and help text as the registry wants them (our names are written out whole, as kube-proxy's are).
func metric(_ name: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
}
