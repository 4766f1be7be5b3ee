import Benchmark
import Foundation
import KubernetesSourceWorkload

let benchmarks: @Sendable () -> Void = {
    let workload = InitialSyncWorkload()
    let config = Benchmark.Configuration(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident, .mallocCountTotal],
        maxDuration: .seconds(30), maxIterations: 5)

    // Decode + build of the initial LIST: 10,000 Services and 10,000 EndpointSlices of 10
    // endpoints, in pages of 500, then the first snapshot. The pages are made before measuring.
    Benchmark("Initial sync: 10k Services + 10k EndpointSlices x 10 endpoints", configuration: config) { benchmark in
        let services = (0..<workload.pageCount).map(workload.servicePage)
        let slices = (0..<workload.pageCount).map(workload.slicePage)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try workload.initialSync(servicePages: services, slicePages: slices))
        }
        benchmark.stopMeasurement()
    }

    // One endpoint change on top of that state: a watch event decoded, recorded, next snapshot.
    // Each sample is 1,000 such changes (scalingFactor .kilo); the tool reports per change (*).
    Benchmark("1,000 endpoint changes -> 1,000 new snapshots (10k Services)",
              configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], scalingFactor: .kilo,
                                   maxDuration: .seconds(20), maxIterations: 10)) { benchmark in
        let (store, _) = try workload.initialSync()
        let events = benchmark.scaledIterations.map { workload.changeEvent(($0 * 7919) % workload.services, generation: $0 + 1) }
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            blackHole(try InitialSyncWorkload.applyChange(events[i], to: store))
        }
        benchmark.stopMeasurement()
    }
}
