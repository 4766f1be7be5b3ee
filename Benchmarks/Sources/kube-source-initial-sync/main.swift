import Foundation
import KubernetesSourceWorkload

// One initial sync (pages made one at a time, as they would arrive), then 1,000 single endpoint
// changes; prints CPU time for each part. Run under `/usr/bin/time -v` for the peak RSS.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

let workload = InitialSyncWorkload()
let wallStart = ContinuousClock.now
let cpuStart = cpuSeconds()
let (store, snapshot) = try workload.initialSync()
let syncWall = ContinuousClock.now - wallStart
let syncCPU = cpuSeconds() - cpuStart
let endpointCount = snapshot.endpoints.values.reduce(0) { $0 + $1.count }
print("initial sync: \(snapshot.servicePorts.count) service ports, \(endpointCount) endpoints, wall \(syncWall), cpu \(String(format: "%.3f", syncCPU)) s")

let changes = 1000
let events = (0..<changes).map { workload.changeEvent(($0 * 7919) % workload.services, generation: $0 + 1) }
let changeCPUStart = cpuSeconds()
for event in events { _ = try InitialSyncWorkload.applyChange(event, to: store) }
let perChange = (cpuSeconds() - changeCPUStart) / Double(changes)
print("one endpoint change -> snapshot: \(String(format: "%.1f", perChange * 1e6)) µs cpu (mean of \(changes))")
