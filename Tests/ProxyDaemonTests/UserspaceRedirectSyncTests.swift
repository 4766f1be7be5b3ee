import EndToEndSupport
import Glibc
import Logging
import NFTables
@testable import ProxyDaemon
import ProxyModel
import RuleSync
import Synchronization
import Testing
import UserspaceProxy

private typealias IPAddress = ProxyModel.IPAddress

/// What the userspace dataplane does around its redirects, with a recording transport instead of
/// the kernel's nf_tables (the real paths are in UserspaceRedirectEndToEndTests).
@Suite struct UserspaceRedirectSyncTests {
    /// Records batches; refuses them with `errno` while it is set.
    final class Transport: NFTablesTransport, @unchecked Sendable {
        let refusing = Mutex<Int32?>(nil)
        let batches = Mutex<[NFTBatch]>([])

        func apply(_ batch: NFTBatch) throws -> Int {
            if let code = refusing.withLock({ $0 }) { throw NFTError.system(operation: "nf_tables batch", errno: code) }
            batches.withLock { $0.append(batch) }
            return 1
        }
        func contents(of table: NFTTable) throws -> NFTTableContents? { nil }
        func deleteTableIfPresent(_ table: NFTTable) throws -> Bool {
            batches.withLock { $0.append(NFTBatch([.deleteTable(table)])) }
            return true
        }
        var elementCommands: [String] {
            batches.withLock { $0.flatMap(\.commands).map(\.description).filter { $0.hasPrefix("add element") && $0.contains(" redirects ") } }
        }
    }

    static let web = ServicePortName(service: NamespacedName(namespace: "ns", name: "web"), port: "p", protocol: .tcp)
    static let snapshot = ProxySnapshot(node: NodeInfo(name: "n"), servicePorts: [
        web: ServicePort(name: web, clusterIPs: [IPAddress("172.30.0.1")!], port: 80),
    ])

    @Test func withoutPermissionThereIsNoRedirectorAndOneWarning() {
        let transport = Transport()
        transport.refusing.withLock { $0 = EPERM }
        let logs = LogCapture()
        let redirector = UserspaceDataplane.redirector(logger: logs.logger, make: { NFTablesUserspaceRedirector(families: [.ipv4], transport: transport) })
        #expect(redirector == nil)
        #expect(logs.messages.count(where: { $0.contains("no CAP_NET_ADMIN") && $0.contains("NodePorts only") }) == 1)
    }

    /// A failed apply throws (so the runner counts and retries it) but keeps the listeners; the
    /// retry redirects to the same port; an unchanged incremental sync sends nothing.
    @Test func aFailedApplyKeepsTheListenersAndTheRetryLeadsToThem() async throws {
        let port = Int(try freePort())
        let transport = Transport()
        let redirector = NFTablesUserspaceRedirector(families: [.ipv4], transport: transport)
        let proxy = try UserspaceProxy(tuning: ProxyTuning(), logger: Logger(label: "test"))
        let dataplane = UserspaceDataplane(proxy: proxy, nodePortAddresses: [], redirector: redirector,
                                           proxyPortRange: port...port, logger: Logger(label: "test"))

        transport.refusing.withLock { $0 = ENOBUFS }
        await #expect(throws: UserspaceDataplane.RedirectFailure.self) {
            try await dataplane.apply(Self.snapshot, diff: SnapshotDiff(), full: true)
        }
        #expect(proxy.statistics().keys.sorted() == ["ns/web:p clusterIP"])
        #expect(ProxyProcess.isListening(port: UInt16(port)), "the portal stays open")

        transport.refusing.withLock { $0 = nil }
        try await dataplane.apply(Self.snapshot, diff: SnapshotDiff(), full: false)
        #expect(transport.elementCommands.count == 1)
        try await dataplane.apply(Self.snapshot, diff: SnapshotDiff(), full: false)
        #expect(transport.elementCommands.count == 1, "nothing changed, nothing sent")
        try await dataplane.apply(Self.snapshot, diff: SnapshotDiff(), full: true)
        #expect(transport.elementCommands.count == 2, "a full sync re-asserts")
        #expect(ProxyProcess.isListening(port: UInt16(port)))

        dataplane.removeRedirects()
        #expect(transport.batches.withLock { $0.last?.commands.map(\.description) } == ["delete table ip swift-kube-proxy-userspace"])
        await proxy.shutdown(gracePeriod: .zero)
    }
}

/// A logger whose messages are kept.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])
    var messages: [String] { lines.withLock { $0 } }
    var logger: Logger {
        Logger(label: "capture") { _ in Handler(sink: self) }
    }

    struct Handler: LogHandler {
        let sink: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
            sink.lines.withLock { $0.append("\(level): \(message)") }
        }
    }
}
