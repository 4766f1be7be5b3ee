import FileSource
import Foundation
import Logging
import ProxyModel
import Testing

@Suite struct FileSourceTests {
    let web = ServicePortName(service: NamespacedName(namespace: "default", name: "web"), port: "http", protocol: .tcp)

    func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("filesource-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Polls the store's snapshot until `condition` holds (bounded tries, no fixed sleeps).
    func eventually(_ store: ClusterStore, _ condition: (ProxySnapshot) -> Bool) async throws -> Bool {
        var last = store.takeSnapshot().snapshot
        for _ in 0..<200 {
            if condition(last) { return true }
            try await Task.sleep(for: .milliseconds(25))
            if store.hasPendingChanges { last = store.takeSnapshot().snapshot }
        }
        return condition(last)
    }

    @Test func editsApplyLiveAndBrokenEditsKeepTheLastGoodState() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/services.yaml"
        try ManifestSetTests.good.write(toFile: file, atomically: true, encoding: .utf8)

        let store = ClusterStore(node: NodeInfo(name: "n"))
        let source = FileSource(path: dir, store: store, logger: Logger(label: "test"), pollInterval: .milliseconds(20))
        #expect(!store.hasSynced)
        let initial = try source.loadInitial()
        #expect(store.hasSynced)
        let watcher = Task { await source.watch(from: initial) }
        defer { watcher.cancel() }
        #expect(try await eventually(store) { $0.servicePorts[web] != nil })

        // A broken edit: the Service stays.
        try "kind: Service\nmetadata: [\n".write(toFile: file, atomically: true, encoding: .utf8)
        // A second file appears with a new Service: since the directory is broken as a whole, nothing changes yet.
        let api = """
        apiVersion: v1
        kind: Service
        metadata: {name: api}
        spec: {clusterIP: 10.96.0.81, ports: [{name: http, port: 80}]}
        """
        try api.write(toFile: dir + "/api.yaml", atomically: true, encoding: .utf8)
        for _ in 0..<200 where source.reloadCounts.rejected == 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(source.reloadCounts.rejected >= 1)
        #expect(!store.hasPendingChanges)
        var snapshot = store.takeSnapshot().snapshot
        #expect(snapshot.servicePorts[web] != nil)

        // Fixing the file applies both: web back, api added; removing web's file removes it.
        try FileManager.default.removeItem(atPath: file)
        let apiName = ServicePortName(service: NamespacedName(namespace: "default", name: "api"), port: "http", protocol: .tcp)
        #expect(try await eventually(store) { $0.servicePorts[apiName] != nil && $0.servicePorts[web] == nil })
        snapshot = store.takeSnapshot().snapshot
        #expect(snapshot.servicePorts.count == 1)
    }

    @Test func missingPathFailsAtStart() {
        let store = ClusterStore(node: NodeInfo(name: "n"))
        let source = FileSource(path: "/nonexistent/services.yaml", store: store, logger: Logger(label: "test"))
        #expect(throws: ManifestError.self) { try source.loadInitial() }
        #expect(!store.hasSynced)
    }
}
