/// The sources' accumulated view of the cluster: Services, EndpointSlices and our Node, as they
/// arrive. Like kube-proxy's change trackers it only records changes; the join of slices to Service
/// ports happens once per snapshot, and only for the Services that changed.
public struct ClusterState: Sendable {
    public private(set) var node: NodeInfo
    private var services: [NamespacedName: [ServicePort]] = [:]
    private var slices: [NamespacedName: [NamespacedName: EndpointSliceInfo]] = [:]
    private var dirty: Set<NamespacedName> = []
    private var allDirty = false
    private var current: ProxySnapshot
    /// The Service port names each Service has in `current`, so a rejoin need not scan all ports.
    private var currentPorts: [NamespacedName: [ServicePortName]] = [:]

    /// Changes recorded since the last snapshot, for `kubeproxy_sync_proxy_rules_*_changes_pending`.
    public private(set) var pendingServiceChanges = 0
    public private(set) var pendingEndpointChanges = 0

    public init(node: NodeInfo) {
        self.node = node
        current = .empty(node: node)
    }

    public var hasPendingChanges: Bool { allDirty || !dirty.isEmpty }

    /// Records a Service's ports (all ports of one Service); `nil` or empty when it is deleted or
    /// not ours to proxy (headless, ExternalName, another proxy's).
    public mutating func setService(_ name: NamespacedName, ports: [ServicePort]?) {
        let ports = ports ?? []
        if (services[name] ?? []) == ports { return }
        if ports.isEmpty { services[name] = nil } else { services[name] = ports }
        dirty.insert(name)
        pendingServiceChanges += 1
    }

    public mutating func setEndpointSlice(_ slice: EndpointSliceInfo) {
        if slices[slice.service]?[slice.name] == slice { return }
        slices[slice.service, default: [:]][slice.name] = slice
        dirty.insert(slice.service)
        pendingEndpointChanges += 1
    }

    public mutating func removeEndpointSlice(_ name: NamespacedName, service: NamespacedName) {
        guard slices[service]?.removeValue(forKey: name) != nil else { return }
        if slices[service]?.isEmpty == true { slices[service] = nil }
        dirty.insert(service)
        pendingEndpointChanges += 1
    }

    /// Replaces every slice of the given Service at once (the `v1/Endpoints` path has one per Service).
    public mutating func replaceEndpointSlices(of service: NamespacedName, with new: [EndpointSliceInfo]) {
        let byName = Dictionary(new.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        if (slices[service] ?? [:]) == byName { return }
        slices[service] = byName.isEmpty ? nil : byName
        dirty.insert(service)
        pendingEndpointChanges += 1
    }

    public mutating func setNode(_ node: NodeInfo) {
        guard node != self.node else { return }
        self.node = node
        allDirty = true
    }

    /// The newest `lastChangeTriggerTime` among the slices of each Service changed since the last snapshot.
    public var pendingTriggerTimes: [Double] {
        dirty.compactMap { slices[$0]?.values.compactMap(\.lastChangeTriggerTime).max() }
    }

    /// Builds the next snapshot, rejoining only the Services changed since the last one.
    public mutating func takeSnapshot() -> (snapshot: ProxySnapshot, diff: SnapshotDiff) {
        let previous = current
        var next = current
        next.node = node
        let touched: Set<NamespacedName>? = allDirty ? nil : dirty
        if touched == nil {
            next.servicePorts = [:]
            next.endpoints = [:]
            currentPorts = [:]
        }
        var candidates: Set<ServicePortName> = []
        for name in touched ?? Set(services.keys) {
            for key in currentPorts.removeValue(forKey: name) ?? [] {
                next.servicePorts[key] = nil
                next.endpoints[key] = nil
                candidates.insert(key)
            }
            let ports = services[name] ?? []
            candidates.formUnion(ports.map(\.name))
            if !ports.isEmpty { currentPorts[name] = ports.map(\.name) }
            for port in ports {
                next.servicePorts[port.name] = port
                let eps = joinEndpoints(of: port.name)
                next.endpoints[port.name] = eps.isEmpty ? nil : eps
            }
        }
        next.generation = previous.generation + 1
        current = next
        dirty = []
        allDirty = false
        pendingServiceChanges = 0
        pendingEndpointChanges = 0
        return (next, SnapshotDiff(from: previous, to: next, candidates: touched == nil ? nil : candidates))
    }

    /// The endpoints of one Service port, merged across its slices (by slice name, so the result
    /// does not depend on arrival order) and deduplicated by address and port. As kube-proxy's
    /// endpointslicecache, a non-terminating copy wins over a terminating one: a pod IP reused by a
    /// new pod while the old one terminates must reach the new pod. Otherwise the first copy stays.
    private func joinEndpoints(of name: ServicePortName) -> [Endpoint] {
        guard let byName = slices[name.service] else { return [] }
        var merged: [EndpointKey: Endpoint] = [:]
        for sliceName in byName.keys.sorted() {
            let slice = byName[sliceName]!
            for port in slice.ports where port.name == name.port && port.protocol == name.protocol {
                for b in slice.backends {
                    let ep = Endpoint(
                        address: b.address, port: port.port, isReady: b.isReady, isServing: b.isServing,
                        isTerminating: b.isTerminating, isLocal: b.nodeName != nil && b.nodeName == node.name,
                        nodeName: b.nodeName, zone: b.zone, zoneHints: b.zoneHints, nodeHints: b.nodeHints)
                    let key = EndpointKey(ep)
                    if let existing = merged[key], !existing.isTerminating || ep.isTerminating { continue }
                    merged[key] = ep
                }
            }
        }
        return merged.values.sorted()
    }
}
