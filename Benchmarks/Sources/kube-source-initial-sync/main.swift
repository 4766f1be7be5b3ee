import Foundation
#if canImport(Glibc)
import Glibc
#endif
import KubernetesSourceWorkload
import KubernetesAPI

// One initial sync (pages made one at a time, as they would arrive), then 1,000 single endpoint
// changes; prints CPU time for each part. Run under `/usr/bin/time -v` for the peak RSS.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

// `kube-source-initial-sync [SERVICES]` (2 ports each, one slice of 10 endpoints; default 10,000).
let workload = InitialSyncWorkload(services: CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 10_000)
let wallStart = ContinuousClock.now
let cpuStart = cpuSeconds()
let (store, snapshot) = try workload.initialSync()
let syncWall = ContinuousClock.now - wallStart
let syncCPU = cpuSeconds() - cpuStart
let endpointCount = snapshot.endpoints.values.reduce(0) { $0 + $1.count }
print("initial sync: \(snapshot.servicePorts.count) service ports, \(endpointCount) endpoints, wall \(syncWall), cpu \(String(format: "%.3f", syncCPU)) s")

// The pages are generated inside the sync above; how much of its time that was:
let generationStart = cpuSeconds()
for page in 0..<workload.pageCount { blackHoleSink(workload.servicePage(page).count + workload.slicePage(page).count) }
print("  of which generating the JSON pages: cpu \(String(format: "%.3f", cpuSeconds() - generationStart)) s")

let changes = 1000
let events = (0..<changes).map { workload.changeEvent(($0 * 7919) % workload.services, generation: $0 + 1) }
let changeCPUStart = cpuSeconds()
for event in events { _ = try InitialSyncWorkload.applyChange(event, to: store) }
let perChange = (cpuSeconds() - changeCPUStart) / Double(changes)
print("one endpoint change -> snapshot: \(String(format: "%.1f", perChange * 1e6)) µs cpu (mean of \(changes))")

// Where one change's time goes.
if CommandLine.arguments.contains("--split") {
    let decoder = JSONDecoder()
    var t = cpuSeconds()
    for event in events { _ = try decoder.decode(WatchEvent<EndpointSliceObject>.self, from: event.dropLast()) }
    print("  decode: \(String(format: "%.1f", (cpuSeconds() - t) / Double(changes) * 1e6)) µs")
    t = cpuSeconds()
    for _ in 0..<100 { _ = store.takeSnapshot() }
    print("  empty snapshot: \(String(format: "%.1f", (cpuSeconds() - t) / 100 * 1e6)) µs")
}

@inline(never) func blackHoleSink(_ value: Int) { if value == -1 { print(value) } }
