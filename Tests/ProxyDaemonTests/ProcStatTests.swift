@testable import ProxyDaemon
import Testing

@Suite struct ProcStatTests {
    @Test func parsesProcSelfStatWithSpacesInTheCommandName() throws {
        // proc(5): pid (comm) state ppid … utime(14) stime(15) … starttime(22) vsize(23) rss(24) …
        var fields = ["S"] + (4...52).map { _ in "0" }
        func set(_ n: Int, _ v: String) { fields[n - 3] = v }
        set(14, "250"); set(15, "50"); set(22, "1000"); set(23, "104857600"); set(24, "2560")
        let line = "4242 (swift kube) proxy) " + fields.joined(separator: " ")
        let stat = try #require(ProcStat.parse(line, ticksPerSecond: 100, pageSize: 4096, bootTime: 1_700_000_000))
        #expect(stat.cpuSeconds == 3.0)
        #expect(stat.virtualBytes == 104_857_600)
        #expect(stat.residentBytes == 2560 * 4096)
        #expect(stat.startTime == 1_700_000_010)
    }
}
