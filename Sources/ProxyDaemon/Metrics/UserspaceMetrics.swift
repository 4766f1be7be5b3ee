import Prometheus
import Synchronization
import UserspaceProxy

/// The userspace proxy's per-Service-port counters (what kube-proxy never had): refreshed from
/// `UserspaceProxy.statistics()` at every scrape. The proxy's totals are cumulative, so counters
/// move by the difference since the last scrape (a rule that was recreated starts again from 0).
/// Several rules may serve one Service port (its NodePort, its portals): `servicePort` names the
/// label of each rule, counters add up their differences and gauges their sums.
final class UserspaceMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let statistics: @Sendable () -> [String: RuleStatistics]
    private let servicePort: @Sendable (String) -> String
    private let last = Mutex<(rules: [String: RuleStatistics], labels: Set<String>)>(([:], []))

    private static var opened: MetricNameDescriptor { metric("swift_kube_proxy_userspace_connections_opened_total", "TCP connections accepted for the Service port.") }
    private static var active: MetricNameDescriptor { metric("swift_kube_proxy_userspace_connections_active", "TCP connections being relayed for the Service port.") }
    private static var bytes: MetricNameDescriptor { metric("swift_kube_proxy_userspace_bytes_total", "Bytes relayed for the Service port, by direction.") }
    private static var dialFailures: MetricNameDescriptor { metric("swift_kube_proxy_userspace_dial_failures_total", "Dials to an endpoint that were refused or timed out.") }
    private static var dialRetries: MetricNameDescriptor { metric("swift_kube_proxy_userspace_dial_retries_total", "Dials made to a further endpoint after one failed.") }
    private static var rejected: MetricNameDescriptor { metric("swift_kube_proxy_userspace_connections_rejected_total", "Clients reset because no endpoint could be reached.") }
    private static var udpActive: MetricNameDescriptor { metric("swift_kube_proxy_userspace_udp_flows_active", "UDP flows (client and endpoint) currently tracked.") }
    private static var udpTotal: MetricNameDescriptor { metric("swift_kube_proxy_userspace_udp_flows_total", "UDP flows created for the Service port.") }
    private static var udpEvicted: MetricNameDescriptor { metric("swift_kube_proxy_userspace_udp_flows_evicted_total", "UDP flows evicted for a new client at a flow cap.") }
    private static var udpRefused: MetricNameDescriptor { metric("swift_kube_proxy_userspace_udp_flows_refused_total", "New UDP clients dropped: the event loop's flow cap was reached and the Service port had no flow to evict.") }
    private static var acceptErrors: MetricNameDescriptor { metric("swift_kube_proxy_userspace_accept_errors_total", "Errors accepting connections on the Service port's listeners.") }

    init(registry: PrometheusCollectorRegistry, statistics: @escaping @Sendable () -> [String: RuleStatistics],
         servicePort: @escaping @Sendable (String) -> String = { $0 }) {
        self.registry = registry
        self.statistics = statistics
        self.servicePort = servicePort
    }

    func collect() {
        let now = statistics()
        last.withLock { last in
            var active: [String: (connections: Int, udpFlows: Int)] = [:]
            for (name, s) in now {
                let before = last.rules[name] ?? RuleStatistics()
                let label = servicePort(name)
                let labels = [("service_port", label)]
                func count(_ d: MetricNameDescriptor, _ value: KeyPath<RuleStatistics, UInt64>, _ extra: [(String, String)] = []) {
                    let delta = s[keyPath: value] >= before[keyPath: value] ? s[keyPath: value] - before[keyPath: value] : s[keyPath: value]
                    registry.makeCounter(descriptor: d, labels: labels + extra).increment(by: Int64(clamping: delta))
                }
                count(Self.opened, \.connectionsOpened)
                count(Self.bytes, \.bytesClientToBackend, [("direction", "client_to_backend")])
                count(Self.bytes, \.bytesBackendToClient, [("direction", "backend_to_client")])
                count(Self.dialFailures, \.dialFailures)
                count(Self.dialRetries, \.dialRetries)
                count(Self.rejected, \.connectionsRejected)
                count(Self.udpTotal, \.udpFlowsTotal)
                count(Self.udpEvicted, \.udpFlowsEvicted)
                count(Self.udpRefused, \.udpFlowsRefused)
                count(Self.acceptErrors, \.acceptErrors)
                active[label, default: (0, 0)].connections += s.connectionsActive
                active[label, default: (0, 0)].udpFlows += s.udpFlowsActive
            }
            for (label, open) in active {
                registry.makeGauge(descriptor: Self.active, labels: [("service_port", label)]).set(to: Double(open.connections))
                registry.makeGauge(descriptor: Self.udpActive, labels: [("service_port", label)]).set(to: Double(open.udpFlows))
            }
            // A Service port that is gone has nothing open any more; its counters stay as they were.
            for label in last.labels where active[label] == nil {
                registry.makeGauge(descriptor: Self.active, labels: [("service_port", label)]).set(to: 0)
                registry.makeGauge(descriptor: Self.udpActive, labels: [("service_port", label)]).set(to: 0)
            }
            last = (now, Set(active.keys))
        }
    }
}
