import Benchmark
import ProxyModel

// The model's hot paths at 10,000 Services × 10 endpoints: one endpoint change turned into a new
// snapshot (what every EndpointSlice event costs at sync time), the diff of two whole snapshots,
// and kube-proxy's endpoint categorization for one Service port.

private let serviceCount = 10_000

private func serviceName(_ i: Int) -> NamespacedName { NamespacedName(namespace: "ns\(i % 50)", name: "svc\(i)") }

private func port(_ i: Int) -> ServicePort {
    ServicePort(name: ServicePortName(service: serviceName(i), port: "http", protocol: .tcp),
                clusterIPs: [IPAddress(ipv4: 0xAC1E_0000 | UInt32(i))], port: 80, nodePort: 0)
}

private func slice(_ i: Int, generation: Int = 0) -> EndpointSliceInfo {
    EndpointSliceInfo(
        name: NamespacedName(namespace: "ns\(i % 50)", name: "svc\(i)-abcde"), service: serviceName(i),
        ports: [.init(name: "http", port: 8080, protocol: .tcp)],
        backends: (0..<10).map { e in
            .init(address: IPAddress(ipv4: 0x0A00_0000 | UInt32(i * 10 + e + generation)), nodeName: "node-\(e % 3)")
        })
}

private func populatedState() -> ClusterState {
    var state = ClusterState(node: NodeInfo(name: "node-0"))
    for i in 0..<serviceCount {
        state.setService(serviceName(i), ports: [port(i)])
        state.setEndpointSlice(slice(i))
    }
    _ = state.takeSnapshot()
    return state
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
                                           maxDuration: .seconds(5))

    Benchmark("ClusterState: initial snapshot of 10k Services x 10 endpoints",
              configuration: .init(maxIterations: 5)) { benchmark in
        var state = ClusterState(node: NodeInfo(name: "node-0"))
        for i in 0..<serviceCount {
            state.setService(serviceName(i), ports: [port(i)])
            state.setEndpointSlice(slice(i))
        }
        benchmark.startMeasurement()
        blackHole(state.takeSnapshot())
        benchmark.stopMeasurement()
    }

    Benchmark("ClusterState: one endpoint change -> snapshot + diff at 10k Services",
              configuration: .init(scalingFactor: .kilo)) { benchmark in
        var state = populatedState()
        var generation = 1
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            state.setEndpointSlice(slice(42, generation: generation))
            generation += 1
            blackHole(state.takeSnapshot())
        }
        // Tearing down 10k Services is not part of a change.
        benchmark.stopMeasurement()
    }

    Benchmark("SnapshotDiff: full compare of two 10k-Service snapshots") { benchmark in
        var state = populatedState()
        let before = state.takeSnapshot().snapshot
        state.setEndpointSlice(slice(7, generation: 3))
        let after = state.takeSnapshot().snapshot
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(SnapshotDiff(from: before, to: after))
        }
        benchmark.stopMeasurement()
    }

    Benchmark("EndpointSelection: categorize 10 endpoints") { benchmark in
        let service = port(1)
        let endpoints = (0..<10).map { Endpoint(address: IPAddress(ipv4: 0x0A00_0000 | UInt32($0)), port: 8080, isLocal: $0 % 3 == 0) }
        let node = NodeInfo(name: "node-0")
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(EndpointSelection(service: service, endpoints: endpoints, node: node))
        }
    }
}
