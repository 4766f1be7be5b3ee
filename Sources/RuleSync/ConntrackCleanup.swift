import ProxyModel

/// Deletes the conntrack entries of datagram flows a sync made stale (kube-proxy's conntrack
/// cleanup): UDP and SCTP have no connection end, so without this a client keeps sending to an
/// endpoint that is gone, or keeps hitting a cached REJECT after endpoints came up. Runs the
/// `conntrack` tool; shared by the rule backends.
public struct ConntrackCleanup: Sendable {
    public var commandPrefix: [String]
    private let runner: any CommandRunner

    public init(commandPrefix: [String] = [], runner: any CommandRunner = ProcessRunner()) {
        self.commandPrefix = commandPrefix
        self.runner = runner
    }

    /// The `conntrack -D` invocations for `flows` of the given families, as kube-proxy issues them:
    /// a frontend's flows by original destination; an endpoint's by each frontend and the endpoint as reply source.
    public static func commands(for flows: [StaleFlow], old: ProxySnapshot, new: ProxySnapshot,
                                families: [IPAddress.Family]) -> [[String]] {
        var commands: [[String]] = []
        func base(_ family: IPAddress.Family, _ proto: TransportProtocol) -> [String] {
            ["conntrack", "-D", "-f", family == .ipv4 ? "ipv4" : "ipv6", "-p", proto.rawValue.lowercased()]
        }
        for flow in flows {
            switch flow.target {
            case .serviceAddress(let ip, let port):
                guard families.contains(ip.family) else { continue }
                commands.append(base(ip.family, flow.protocol) + ["--orig-dst", "\(ip)", "--dport", "\(port)"])
            case .endpoint(let name, let ep):
                guard families.contains(ep.address.family),
                      let service = old.servicePorts[name] ?? new.servicePorts[name] else { continue }
                let family = ep.address.family
                for ip in (service.clusterIPs + service.externalIPs + service.loadBalancerIPs) where ip.family == family {
                    commands.append(base(family, flow.protocol) + ["--orig-dst", "\(ip)", "--reply-src", "\(ep.address)"])
                }
                if service.nodePort != 0 {
                    commands.append(base(family, flow.protocol) + ["--dport", "\(service.nodePort)", "--reply-src", "\(ep.address)"])
                }
            }
        }
        return commands
    }

    /// Runs the commands; returns how many failed. `conntrack` fails when nothing matched, and a
    /// missing entry is not an error here, so failures are only counted.
    @discardableResult
    public func delete(_ flows: [StaleFlow], old: ProxySnapshot, new: ProxySnapshot, families: [IPAddress.Family]) -> Int {
        var failed = 0
        for command in Self.commands(for: flows, old: old, new: new, families: families) {
            do { _ = try runner.run(commandPrefix + command, input: nil) } catch { failed += 1 }
        }
        return failed
    }

    /// After a sync that put `snapshot` in force: deletes the flows that the step from `last` (the
    /// snapshot in force before) made stale. After a failed sync `changes` no longer describes that
    /// step, so the two snapshots are compared instead.
    public func deleteStale(from last: ProxySnapshot?, to snapshot: ProxySnapshot, changes: SnapshotDiff?,
                            lastSyncFailed: Bool, families: [IPAddress.Family]) {
        guard let last else { return }
        let diff = (!lastSyncFailed ? changes : nil) ?? SnapshotDiff(from: last, to: snapshot)
        delete(diff.staleFlows(from: last, to: snapshot), old: last, new: snapshot, families: families)
    }
}

/// What a rule backend remembers for stale-flow cleanup: the snapshot its last sync put in force
/// in every family, and whether a sync failed since (its `changes` then no longer describe the step).
struct StaleFlowBase: Sendable {
    private var lastApplied: ProxySnapshot?
    private var failedSince = false

    /// Ends a sync over all families: rethrows `error`, remembering the failure; otherwise the new
    /// rules are in force, so `cleanup` deletes the flows the step to `snapshot` made stale, and
    /// `snapshot` becomes the base.
    mutating func finishSync(_ snapshot: ProxySnapshot, changes: SnapshotDiff?, error: (any Error)?, cleanup: ConntrackCleanup?,
                             families: [IPAddress.Family]) throws {
        if let error {
            failedSince = true
            throw error
        }
        cleanup?.deleteStale(from: lastApplied, to: snapshot, changes: changes, lastSyncFailed: failedSince, families: families)
        lastApplied = snapshot
        failedSince = false
    }
}
