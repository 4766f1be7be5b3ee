import ProxyModel

/// Where the health check node ports listen, as upstream's service health server decides it
/// (pkg/proxy/healthcheck/service_health.go): on every address when `nodePortAddresses` is unset or
/// matches everything (`0.0.0.0/0`, `::/0`), else on each node IP it selects.
enum HealthCheckAddresses {
    /// nil: every address (one wildcard socket); else the node's addresses in `nodePortAddresses`.
    static func hosts(nodePortAddresses: [CIDR], nodeAddresses: [IPAddress]) -> [IPAddress]? {
        if nodePortAddresses.isEmpty || nodePortAddresses.contains(where: { $0.prefixLength == 0 }) { return nil }
        return NodePortAddresses.select(nodePortAddresses, from: nodeAddresses)
    }
}
