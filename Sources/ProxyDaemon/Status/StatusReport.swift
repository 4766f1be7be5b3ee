import Foundation
import ProxyModel
import UserspaceProxy

/// What `swift-kube-proxy status` prints: the rules in force as of the last programmed sync,
/// Service port by Service port with its frontends and endpoints, and the userspace proxy's
/// counters of each (the rule backends forward in the kernel and count nothing per Service).
enum StatusReport {
    static func render(mode: String, status: SyncStatus.Values, snapshot: ProxySnapshot?, counters: [String: RuleStatistics]?) -> String {
        var lines = ["mode: \(mode)"]
        let last = status.lastSuccess.map { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: $0)) } ?? "never"
        lines.append("syncs: \(status.syncs), last success: \(last), consecutive failures: \(status.consecutiveFailures)")
        guard let snapshot else {
            lines.append("no sync programmed yet")
            return lines.joined(separator: "\n") + "\n"
        }
        lines.append("service ports: \(snapshot.servicePorts.count)")
        for service in snapshot.sortedServicePorts {
            lines.append("")
            lines.append("\(service.name) \(service.name.protocol.rawValue)")
            var frontends: [String] = service.clusterIPs.map { join($0, service.port) }
            if service.nodePort != 0 { frontends.append("nodePort \(service.nodePort)") }
            frontends += service.externalIPs.map { "external \(join($0, service.port))" }
            frontends += service.loadBalancerIPs.map { "loadBalancer \(join($0, service.port))" }
            lines.append("  frontends: \(frontends.joined(separator: ", "))")
            var policies: [String] = []
            if service.externalTrafficPolicy == .local { policies.append("externalTrafficPolicy Local") }
            if service.internalTrafficPolicy == .local { policies.append("internalTrafficPolicy Local") }
            if !policies.isEmpty { lines.append("  policy: \(policies.joined(separator: ", "))") }
            let endpoints = snapshot.endpoints[service.name] ?? []
            if endpoints.isEmpty { lines.append("  endpoints: none (connections are rejected)") }
            for endpoint in endpoints {
                var state: [String] = [endpoint.isReady ? "ready" : endpoint.isServing ? "serving" : "not ready"]
                if endpoint.isTerminating { state.append("terminating") }
                if endpoint.isLocal { state.append("local") }
                lines.append("  -> \(join(endpoint.address, endpoint.port)) \(state.joined(separator: " "))")
            }
            if let counters {
                let c = counters[service.name.description] ?? RuleStatistics()
                lines.append("  connections: \(c.connectionsOpened) opened, \(c.connectionsActive) active, \(c.connectionsRejected) rejected, "
                             + "\(c.dialFailures) dial failures; bytes: \(c.bytesClientToBackend) in, \(c.bytesBackendToClient) out; "
                             + "udp flows: \(c.udpFlowsTotal) total, \(c.udpFlowsActive) active")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The userspace proxy's counters per rule, added up per Service port (its NodePort and portal rules).
    static func perServicePort(_ rules: [String: RuleStatistics]) -> [String: RuleStatistics] {
        var sums: [String: RuleStatistics] = [:]
        for (name, s) in rules {
            let key = UserspaceRules.servicePortLabel(ofRule: name)
            var sum = sums[key] ?? RuleStatistics()
            sum.connectionsOpened += s.connectionsOpened
            sum.connectionsActive += s.connectionsActive
            sum.connectionsRejected += s.connectionsRejected
            sum.dialFailures += s.dialFailures
            sum.bytesClientToBackend += s.bytesClientToBackend
            sum.bytesBackendToClient += s.bytesBackendToClient
            sum.udpFlowsTotal += s.udpFlowsTotal
            sum.udpFlowsActive += s.udpFlowsActive
            sums[key] = sum
        }
        return sums
    }

    private static func join(_ ip: ProxyModel.IPAddress, _ port: Int) -> String {
        ip.isIPv4 ? "\(ip):\(port)" : "[\(ip)]:\(port)"
    }
}
