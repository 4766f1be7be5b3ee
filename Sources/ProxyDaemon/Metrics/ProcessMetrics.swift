import Foundation
import Prometheus
import Synchronization

/// The standard `process_*` metrics, read from /proc/self at scrape time.
final class ProcessMetrics: Sendable {
    private let cpuSeconds: Counter
    private let residentMemory, virtualMemory, openFDs, maxFDs, startTime: Gauge
    private let lastCPU = Mutex(0.0)

    init(registry: PrometheusCollectorRegistry) {
        cpuSeconds = registry.makeCounter(descriptor: metric("process_cpu_seconds_total", "Total user and system CPU time spent in seconds."))
        residentMemory = registry.makeGauge(descriptor: metric("process_resident_memory_bytes", "Resident memory size in bytes."))
        virtualMemory = registry.makeGauge(descriptor: metric("process_virtual_memory_bytes", "Virtual memory size in bytes."))
        openFDs = registry.makeGauge(descriptor: metric("process_open_fds", "Number of open file descriptors."))
        maxFDs = registry.makeGauge(descriptor: metric("process_max_fds", "Maximum number of open file descriptors."))
        startTime = registry.makeGauge(descriptor: metric("process_start_time_seconds", "Start time of the process since unix epoch in seconds."))
    }

    func collect() {
        guard let stat = ProcStat.read() else { return }
        let cpu = stat.cpuSeconds
        let delta = lastCPU.withLock { last in
            defer { last = max(last, cpu) }
            return max(0, cpu - last)
        }
        cpuSeconds.increment(by: delta)
        residentMemory.set(to: Double(stat.residentBytes))
        virtualMemory.set(to: Double(stat.virtualBytes))
        startTime.set(to: stat.startTime)
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") { openFDs.set(to: Double(fds.count)) }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxFDs.set(to: Double(limit.rlim_cur)) }
    }
}

/// The fields of /proc/self/stat we report (proc(5)).
struct ProcStat {
    var cpuSeconds: Double
    var virtualBytes: Int
    var residentBytes: Int
    var startTime: Double

    static func read() -> ProcStat? {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8) else { return nil }
        return parse(text, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))), pageSize: Int(sysconf(Int32(_SC_PAGESIZE))),
                     bootTime: bootTime() ?? 0)
    }

    /// `text` is the whole stat line; the command name in parentheses may contain spaces.
    static func parse(_ text: String, ticksPerSecond: Double, pageSize: Int, bootTime: Double) -> ProcStat? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        // Fields from 3 (state) on; field n is at index n - 3.
        let fields = text[text.index(after: close)...].split(separator: " ")
        func field(_ n: Int) -> Double? { n - 3 < fields.count ? Double(fields[n - 3]) : nil }
        guard let utime = field(14), let stime = field(15), let start = field(22), let vsize = field(23), let rss = field(24) else { return nil }
        return ProcStat(cpuSeconds: (utime + stime) / ticksPerSecond, virtualBytes: Int(vsize), residentBytes: Int(rss) * pageSize,
                        startTime: bootTime + start / ticksPerSecond)
    }

    static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}
