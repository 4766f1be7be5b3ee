import Foundation
import ProxyModel

/// kube-proxy's own health (pkg/proxy/healthcheck/proxier_health.go): healthy unless a change has
/// waited longer than `healthTimeout` (2 × syncPeriod) without a sync programming it, whether or
/// not any sync has succeeded yet. While the sources list (start-up) nothing is queued (the
/// SyncRunner starts counting once they have), so a slow first listing stays healthy. `/livez`
/// reports just that; `/healthz` also reports unhealthy while the Node is being deleted or is
/// tainted for deletion by the cluster autoscaler, so load balancers drain this node first.
public final class ProxyHealth: Sendable {
    private let status: SyncStatus
    private let healthTimeout: Double
    private let nodeEligible: @Sendable () -> Bool
    private let now: @Sendable () -> Double
    private let metrics: SyncMetrics?

    public init(status: SyncStatus, syncPeriod: Duration, nodeEligible: @escaping @Sendable () -> Bool,
                metrics: SyncMetrics? = nil, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.status = status
        self.metrics = metrics
        let c = syncPeriod.components
        healthTimeout = 2 * (Double(c.seconds) + Double(c.attoseconds) * 1e-18)
        self.nodeEligible = nodeEligible
        self.now = now
    }

    /// Eligibility of the node is a property of the store's current view.
    public convenience init(status: SyncStatus, syncPeriod: Duration, store: ClusterStore, metrics: SyncMetrics? = nil,
                            now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.init(status: status, syncPeriod: syncPeriod, nodeEligible: { store.read { !$0.node.isTerminating } },
                  metrics: metrics, now: now)
    }

    /// The proxy alone, ignoring the Node (what the health check node ports report).
    public var isHealthy: Bool { evaluate().healthy }

    private func evaluate() -> (healthy: Bool, lastUpdated: Double?, currentTime: Double) {
        let values = status.current
        let current = now()
        // As kube-proxy: healthy while nothing waits; unhealthy once a change has waited healthTimeout.
        guard let queued = values.oldestQueuedChange else { return (true, values.lastSuccess, current) }
        return (current - queued < healthTimeout, values.lastSuccess, current)
    }

    public func healthz() -> HTTPResponse {
        let eligible = nodeEligible()
        let (healthy, lastUpdated, current) = evaluate()
        let ok = healthy && eligible
        // As kube-proxy: a healthy answer reports lastUpdated as now (older releases' meaning).
        let body = #"{"lastUpdated": "\#(GoTime.string(ok ? current : lastUpdated))","currentTime": "\#(GoTime.string(current))", "nodeEligible": \#(eligible)}"#
        return HTTPResponse(status: ok ? 200 : 503, headers: Self.headers, body: body)
    }

    public func livez() -> HTTPResponse {
        let (healthy, lastUpdated, current) = evaluate()
        let body = #"{"lastUpdated": "\#(GoTime.string(healthy ? current : lastUpdated))","currentTime": "\#(GoTime.string(current))"}"#
        return HTTPResponse(status: healthy ? 200 : 503, headers: Self.headers, body: body)
    }

    /// Ours, for a readiness probe: 200 once a sync has programmed the node and while healthy. A pod
    /// that cannot reach the API (say, through a `kubernetes` Service no proxy has programmed yet)
    /// stays unready instead of reporting Ready with nothing in force.
    public func readyz() -> HTTPResponse {
        let (healthy, lastUpdated, current) = evaluate()
        let ready = healthy && lastUpdated != nil
        let body = #"{"ready": \#(ready),"lastUpdated": "\#(GoTime.string(lastUpdated))","currentTime": "\#(GoTime.string(current))"}"#
        return HTTPResponse(status: ready ? 200 : 503, headers: Self.headers, body: body)
    }

    static let headers = ["Content-Type": "application/json", "X-Content-Type-Options": "nosniff"]

    /// The handler of the healthz server: `/healthz`, `/livez` and `/readyz`.
    public func handle(_ path: String) -> HTTPResponse {
        switch path {
        case "/healthz":
            let answer = healthz()
            metrics?.healthChecked("healthz", code: answer.status)
            return answer
        case "/livez":
            let answer = livez()
            metrics?.healthChecked("livez", code: answer.status)
            return answer
        case "/readyz":
            return readyz()
        default:
            return .notFound
        }
    }
}
