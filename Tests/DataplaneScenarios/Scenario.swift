import Foundation
import ProxyModel

/// What a dataplane must offer the scenarios: apply snapshots to the node namespace it was made
/// for, clean up, and show that other programs' rules are left alone. One adapter per backend.
public protocol ScenarioDataplane: AnyObject {
    /// Programs the node for `snapshot` (the adapter decides full vs incremental; both must hold).
    func apply(_ snapshot: ProxySnapshot) throws
    /// The backend's `--cleanup`.
    func cleanup() throws
    /// Installs rules of "another program" in the node namespace (a foreign chain/table and a hook).
    func installForeignRules() throws
    /// Those foreign rules are all still there.
    func foreignRulesIntact() throws -> Bool
    /// Any rule or chain of ours is present in the node namespace.
    func hasRulesOfOurs() throws -> Bool
}

/// Where a probe connects from.
public enum ProbeSource: Sendable, Hashable {
    /// 192.168.50.2, outside the cluster CIDR, on the node's uplink.
    case externalClient
    /// 10.180.100.2, a pod inside the cluster CIDR (not a backend).
    case podClient
    /// The node itself (192.168.50.1, its uplink address, is the source it picks for Service addresses).
    case node
    /// 192.168.51.2: off-cluster like `externalClient`, outside the source ranges scenarios allow.
    case blockedClient
    /// Backend pod i itself (hairpin: a pod reaching a Service that picks it).
    case pod(Int)
    /// The node, binding this source address (e.g. its uplink address towards a pod, where routing
    /// alone would pick its address on the pod's link).
    case nodeFrom(IPAddress)

    public var address: IPAddress {
        switch self {
        case .externalClient: Topology.externalClientAddress
        case .podClient: Topology.podClientAddress
        case .node: Topology.nodeAddress
        case .blockedClient: Topology.blockedClientAddress
        case .pod(let i): Topology.podAddress(i)
        case .nodeFrom(let address): address
        }
    }
}

/// `count` connections (each a new flow) to one address and port.
public struct Probe: Sendable, Hashable {
    public var proto: TransportProtocol
    public var address: IPAddress
    public var port: Int
    public var count: Int
    /// How long one attempt may wait for an answer. Only an expected "unanswered" waits it out.
    public var timeoutSeconds: Double

    public init(_ proto: TransportProtocol = .tcp, _ address: IPAddress, _ port: Int, count: Int = 1, timeoutSeconds: Double = 5) {
        self.proto = proto
        self.address = address
        self.port = port
        self.count = count
        self.timeoutSeconds = timeoutSeconds
    }
}

public enum ProbeResult: Hashable, Sendable {
    /// The backend at `server` answered and saw the connection come from `peer`.
    case answered(server: IPAddress, peer: IPAddress)
    case refused
    case timeout
    case error(String)

    init(line: String) {
        let words = line.split(separator: " ")
        switch words.first {
        case "OK" where words.count == 3:
            if let s = IPAddress(words[1]), let p = IPAddress(words[2]) { self = .answered(server: s, peer: p) } else { self = .error(line) }
        case "REFUSED": self = .refused
        case "TIMEOUT": self = .timeout
        default: self = .error(line)
        }
    }
}

/// What the probe's results must show.
public struct Expectation: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        case answered, refused, unanswered
        /// The node did not touch it: the off-node host that really owns the address answered.
        case notIntercepted
    }
    public enum SourceSeen: Sendable, Hashable {
        /// The backend saw the client's own address.
        case client
        /// The backend saw a node address (masqueraded).
        case masqueraded
        /// The backend saw exactly this address (e.g. the node's address on the link towards it).
        case address(IPAddress)
    }

    public var outcome: Outcome
    /// Only these pods (1-based) answer; nil: any.
    public var backends: Set<Int>?
    /// Each of `backends` answers equally often (round-robin).
    public var evenly = false
    /// One backend answers every time (affinity).
    public var sticky = false
    public var source: SourceSeen?

    public static func reaches(_ pods: Set<Int>, evenly: Bool = false, source: SourceSeen? = nil) -> Expectation {
        Expectation(outcome: .answered, backends: pods, evenly: evenly, source: source)
    }
    public static func sticks(to pods: Set<Int>, source: SourceSeen? = nil) -> Expectation {
        Expectation(outcome: .answered, backends: pods, sticky: true, source: source)
    }
    public static let refused = Expectation(outcome: .refused)
    public static let unanswered = Expectation(outcome: .unanswered)
    public static let notIntercepted = Expectation(outcome: .notIntercepted)

    /// nil when `results` (from `source`, of `probe` when given) meet this expectation, else why not.
    public func check(_ results: [ProbeResult], from client: ProbeSource, probe: Probe? = nil) -> String? {
        switch outcome {
        case .refused:
            return results.allSatisfy { $0 == .refused } ? nil : "expected every attempt refused, got \(results)"
        case .unanswered:
            return results.allSatisfy { $0 == .timeout } ? nil : "expected no answer (dropped), got \(results)"
        case .notIntercepted:
            let owners = probe.map { [$0.address] } ?? Topology.outsideAddresses
            let untouched = results.allSatisfy { r in
                guard case .answered(let server, let peer) = r else { return false }
                return owners.contains(server) && peer == client.address
            }
            return untouched ? nil : "expected the off-node host to answer untouched, got \(results)"
        case .answered:
            var servers: [IPAddress] = [], peers: [IPAddress] = []
            for r in results {
                guard case .answered(let s, let p) = r else { return "expected answers, got \(results)" }
                servers.append(s)
                peers.append(p)
            }
            if let backends {
                let allowed = Set(backends.map(Topology.podAddress))
                if let stray = servers.first(where: { !allowed.contains($0) }) { return "answer from \(stray), expected only pods \(backends.sorted())" }
                if evenly {
                    let per = results.count / max(backends.count, 1)
                    for pod in backends where servers.count(where: { $0 == Topology.podAddress(pod) }) != per {
                        return "expected \(per) answers from each of pods \(backends.sorted()), got \(servers)"
                    }
                }
            }
            if sticky && Set(servers).count != 1 { return "expected one backend every time, got \(servers)" }
            switch source {
            case .client?:
                if let p = peers.first(where: { $0 != client.address }) { return "backend saw \(p), expected the client \(client.address)" }
            case .masqueraded?:
                if let p = peers.first(where: { $0 == client.address }) { return "backend saw the client \(p), expected a masqueraded source" }
            case .address(let want)?:
                if let p = peers.first(where: { $0 != want }) { return "backend saw \(p), expected \(want)" }
            case nil: break
            }
            return nil
        }
    }
}

/// One step of a scenario.
public enum Step: Sendable {
    case apply(ProxySnapshot)
    case probe(ProbeSource, Probe, Expectation)
    /// The probe, again after `pauseSeconds` with no traffic while the expectation does not hold, at
    /// most `attempts` times: for what only idle time brings (an affinity timeout running out).
    case probeUntil(ProbeSource, Probe, Expectation, pauseSeconds: Double, attempts: Int)
    case installForeignRules
    case expectForeignRulesIntact
    case cleanup
    case expectNoRulesOfOurs
}

/// The rule backends scenarios run on (both iptables variants share one kind).
public enum ScenarioBackend: String, Sendable, Hashable, CaseIterable {
    case iptables, nftables
}

/// The proxier settings a scenario runs under (the adapters turn it into a `RuleSyncConfig`).
public struct ScenarioConfig: Sendable, Hashable {
    /// kube-proxy's `--cluster-cidr` (empty: no local-traffic detector).
    public var clusterCIDRs: [CIDR]
    public var masqueradeAll: Bool
    public var nodePortAddresses: [CIDR]
    /// `nodePortAddresses: [primary]`; nil: the mode's default (primary in nftables mode when
    /// `nodePortAddresses` is empty, as the daemon).
    public var nodePortAddressesPrimary: Bool?
    /// The Service CIDRs (nftables mode drops traffic to unallocated addresses in them). No
    /// `RuleSyncConfig` field takes it yet: issue #10 adds one.
    public var serviceCIDRs: [CIDR]

    public init(clusterCIDRs: [CIDR] = [Topology.clusterCIDR], masqueradeAll: Bool = false, nodePortAddresses: [CIDR] = [],
                serviceCIDRs: [CIDR] = [], nodePortAddressesPrimary: Bool? = nil) {
        self.nodePortAddressesPrimary = nodePortAddressesPrimary
        self.clusterCIDRs = clusterCIDRs
        self.masqueradeAll = masqueradeAll
        self.nodePortAddresses = nodePortAddresses
        self.serviceCIDRs = serviceCIDRs
    }

    public static let standard = ScenarioConfig()
}

/// A behaviour every rule backend must show, as data: a topology size and steps.
public struct Scenario: Sendable, CustomStringConvertible {
    public var name: String
    public var pods: Int
    public var steps: [Step]
    /// Pods living behind the second node (endpoints there are `isLocal: false`).
    public var remotePods: Set<Int> = []
    public var config: ScenarioConfig = .standard
    /// The backends whose upstream counterpart has this behaviour (e.g. localhost NodePorts: iptables only).
    public var backends: Set<ScenarioBackend> = Set(ScenarioBackend.allCases)
    /// A backend that cannot meet the scenario yet, and why (an issue): the run is recorded as a known
    /// issue, so it fails loudly once the gap is closed. Never a reason to delete a scenario.
    public var knownGaps: [ScenarioBackend: String] = [:]
    /// The upstream test this mirrors ("pkg/proxy/iptables/proxier_test.go: TestLoadBalancer").
    public var upstream: String?

    public init(_ name: String, pods: Int, _ steps: [Step]) {
        self.name = name
        self.pods = pods
        self.steps = steps
    }

    public init(_ name: String, upstream: String, pods: Int, remotePods: Set<Int> = [], config: ScenarioConfig = .standard,
                backends: Set<ScenarioBackend> = Set(ScenarioBackend.allCases), knownGaps: [ScenarioBackend: String] = [:],
                _ steps: [Step]) {
        self.init(name, pods: pods, steps)
        self.upstream = upstream
        self.remotePods = remotePods
        self.config = config
        self.backends = backends
        self.knownGaps = knownGaps
    }

    public var description: String { name }
}

/// Runs scenarios in fresh namespaces.
public enum ScenarioRunner {
    /// Builds the topology, makes the dataplane for it, runs every step; returns what failed (empty
    /// when the scenario held). The namespaces are deleted whatever happens.
    public static func run(_ scenario: Scenario, dataplane make: (Topology) throws -> any ScenarioDataplane) throws -> [String] {
        let topology = try Topology(pods: scenario.pods, remotePods: scenario.remotePods)
        defer { topology.teardown() }
        let dataplane = try make(topology)
        var failures: [String] = []
        for (i, step) in scenario.steps.enumerated() {
            let at = "\(scenario.name), step \(i + 1)"
            switch step {
            case .apply(let snapshot):
                do { try dataplane.apply(snapshot) } catch {
                    failures.append("\(at): apply failed: \(error)")
                    return failures
                }
            case .probe(let source, let probe, let expectation):
                let results = try topology.probe(from: source, probe)
                if let why = expectation.check(results, from: source, probe: probe) {
                    failures.append("\(at): \(probe.proto) \(source) -> \(probe.address):\(probe.port): \(why)")
                }
            case .probeUntil(let source, let probe, let expectation, let pause, let attempts):
                var why: String?
                for attempt in 1...attempts {
                    if attempt > 1 { Thread.sleep(forTimeInterval: pause) }  // idle time is the stimulus here
                    why = expectation.check(try topology.probe(from: source, probe), from: source, probe: probe)
                    if why == nil { break }
                }
                if let why { failures.append("\(at): \(probe.proto) \(source) -> \(probe.address):\(probe.port), \(attempts) attempts: \(why)") }
            case .installForeignRules:
                try dataplane.installForeignRules()
            case .expectForeignRulesIntact:
                if try !dataplane.foreignRulesIntact() { failures.append("\(at): foreign rules were changed") }
            case .cleanup:
                try dataplane.cleanup()
            case .expectNoRulesOfOurs:
                if try dataplane.hasRulesOfOurs() { failures.append("\(at): rules of ours remain after cleanup") }
            }
        }
        return failures
    }
}
