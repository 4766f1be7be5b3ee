import Conntrack
import Foundation
import Glibc
import Logging
@testable import ProxyDaemon
import ProxyModel
import Testing

/// A namespace's conntrack table filled with many UDP entries (ctnetlink creates, no traffic): one
/// cleanup streams it, deletes exactly the stale ones, and its memory does not grow with the table.
/// Time and memory are printed (and reported in docs/conntrack.md), never asserted.
///
/// Size: `SKP_CT_ENTRIES` if set, else 1,000,000 or, when the node's nf_conntrack_max (a global
/// sysctl, left as it is) is lower, what fits under it with a margin; at least 100,000 or skipped.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct LargeTableNamespaceTests {
    static let dns = ServicePortName(service: NamespacedName(namespace: "kube-system", name: "dns"), port: "dns", protocol: .udp)

    static var entryCount: Int {
        if let text = ProcessInfo.processInfo.environment["SKP_CT_ENTRIES"], let n = Int(text) { return n }
        let max = (try? String(contentsOfFile: "/proc/sys/net/netfilter/nf_conntrack_max", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        return min(1_000_000, max - max / 20)
    }

    /// Entry i: a client 10.x.y.z:port to the Service 172.30.0.10:53, answered by the serving endpoint
    /// 10.244.0.5:5353, except every 10th (answered by 10.244.0.9, gone: stale) and every 10th + 1
    /// (to 172.30.0.99:53, no Service: left alone).
    static func entry(_ i: Int) -> ConntrackTableFiller.Entry {
        let client = UInt32(10 << 24) | UInt32(1 + i / 60_000) << 8 | UInt32(i % 200)
        let port = UInt16(1024 + (i / 200) % 300)
        switch i % 10 {
        case 0: return .init(client: client, clientPort: port, destination: 0xAC1E_000A, destinationPort: 53, replier: 0x0AF4_0009, replierPort: 5353)
        case 1: return .init(client: client, clientPort: port, destination: 0xAC1E_0063, destinationPort: 53, replier: 0xAC1E_0063, replierPort: 53)
        default: return .init(client: client, clientPort: port, destination: 0xAC1E_000A, destinationPort: 53, replier: 0x0AF4_0005, replierPort: 5353)
        }
    }

    @Test func aCleanupOfALargeTableDeletesExactlyTheStaleOnesInFlatMemory() async throws {
        let count = Self.entryCount
        // Smaller tables only when asked for (Benchmarks/conntrack/run.sh compares sizes).
        let minimum = ProcessInfo.processInfo.environment["SKP_CT_ENTRIES"] == nil ? 100_000 : 1
        try #require(count >= minimum, "nf_conntrack_max leaves room for only \(count) entries")
        let ns = try TestNamespace(prefix: "skp-big")
        defer { ns.remove() }
        let fillStart = ContinuousClock.now
        try await offPool { try ConntrackTableFiller.insert(namespace: ns.name, count: count, entry: Self.entry) }
        let fillTime = ContinuousClock.now - fillStart

        let snapshot = ProxySnapshot(
            node: NodeInfo(name: "n"),
            servicePorts: [Self.dns: ServicePort(name: Self.dns, clusterIPs: [IPAddress("172.30.0.10")!], port: 53)],
            endpoints: [Self.dns: [Endpoint(address: IPAddress("10.244.0.5")!, port: 5353)]])
        let cleaner = ConntrackCleaner(conntrack: try Conntrack(networkNamespace: ns.name), metrics: nil,
                                       logger: Logger(label: "test"), deadline: .seconds(600), families: [.ipv4])
        let stale = (count + 9) / 10

        let before = Memory.read()
        Memory.resetPeak()
        let start = ContinuousClock.now
        let reports = await cleaner.clean(snapshot)
        let took = ContinuousClock.now - start
        let after = Memory.read()

        let report = try #require(reports.first)
        #expect(report.error == nil)
        #expect(report.scanned == count)
        #expect(report.stale == stale)
        #expect(report.deleted.deleted == stale)
        #expect(report.deleted.notAttempted == 0)

        // What is left: every entry but the stale ones (streamed and counted, not collected).
        let conntrack = try Conntrack(networkNamespace: ns.name)
        let (left, staleLeft) = try await offPool {
            var left = 0, staleLeft = 0
            let gone = IPAddress("10.244.0.9")!
            _ = try conntrack.dump(family: .ipv4) { flow in
                left += 1
                if flow.reply.source == gone { staleLeft += 1 }
                return false
            }
            return (left, staleLeft)
        }
        #expect(left == count - stale)
        #expect(staleLeft == 0)

        // For contrast: collecting the whole table, as the cleanup did before.
        Memory.resetPeak()
        let (allCount, collected) = try await offPool {
            let all = try conntrack.flows(family: .ipv4)
            return (all.count, Memory.read())
        }
        #expect(allCount == count - stale)

        print("""
            conntrack large table: \(count) entries (filled in \(fillTime)); cleanup: \(report.scanned) scanned, \
            \(report.deleted.deleted) deleted in \(took) (dump and decisions \(report.dumpSeconds) s, restarts \(report.restarts)); \
            RSS before \(before.rssKiB) KiB, peak during cleanup \(after.peakKiB) KiB (+\(after.peakKiB - before.rssKiB) KiB); \
            collecting the \(allCount) remaining entries instead peaks at +\(collected.peakKiB - before.rssKiB) KiB
            """)
    }
}

/// Past its deadline a cleanup stops deleting (after the one batch it always sends) and says how
/// many it left; the next cleanup takes the rest.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct CleanupDeadlineNamespaceTests {
    @Test func aCleanupPastItsDeadlineStopsDeletingAndTheNextOneFinishes() async throws {
        let ns = try TestNamespace(prefix: "skp-ddl")
        defer { ns.remove() }
        let count = 10_000
        try await offPool { try ConntrackTableFiller.insert(namespace: ns.name, count: count, entry: LargeTableNamespaceTests.entry) }
        let snapshot = ProxySnapshot(
            node: NodeInfo(name: "n"),
            servicePorts: [LargeTableNamespaceTests.dns: ServicePort(name: LargeTableNamespaceTests.dns, clusterIPs: [IPAddress("172.30.0.10")!], port: 53)],
            endpoints: [LargeTableNamespaceTests.dns: [Endpoint(address: IPAddress("10.244.0.5")!, port: 5353)]])
        let conntrack = try Conntrack(networkNamespace: ns.name)
        let stale = count / 10

        let late = ConntrackCleaner(conntrack: conntrack, metrics: nil, logger: Logger(label: "test"), deadline: .zero, families: [.ipv4])
        let first = try #require(await late.clean(snapshot).first)
        #expect(first.stale == stale)
        #expect(first.deleted.deleted == Conntrack.deleteBatchSize)
        #expect(first.deleted.notAttempted == stale - Conntrack.deleteBatchSize)

        let onTime = ConntrackCleaner(conntrack: conntrack, metrics: nil, logger: Logger(label: "test"), families: [.ipv4])
        let second = try #require(await onTime.clean(snapshot).first)
        #expect(second.stale == stale - Conntrack.deleteBatchSize)
        #expect(second.deleted.deleted == second.stale)
        #expect(second.deleted.notAttempted == 0)
    }
}

/// Runs blocking netlink work of a test on a dispatch thread, as the cleaner does, so that it does
/// not hold one of the cooperative pool's few threads (other suites run meanwhile).
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}

/// This process's resident memory from /proc/self/status; the peak (VmHWM) can be reset by writing
/// 5 to /proc/self/clear_refs.
enum Memory {
    struct Reading { var rssKiB: Int; var peakKiB: Int }

    static func read() -> Reading {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
                return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? "") ?? 0
            }
            return 0
        }
        return Reading(rssKiB: field("VmRSS"), peakKiB: field("VmHWM"))
    }

    static func resetPeak() {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return }
        _ = write(fd, "5", 1)
        close(fd)
    }
}
