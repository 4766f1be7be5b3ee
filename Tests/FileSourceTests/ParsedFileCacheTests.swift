@testable import FileSource
import Foundation
import ProxyModel
import Testing

/// A reload parses only the files that changed: the others' objects come from the cache.
@Suite struct ParsedFileCacheTests {
    static func service(_ name: String, _ ip: String) -> String {
        "apiVersion: v1\nkind: Service\nmetadata: {name: \(name), namespace: default}\nspec: {clusterIP: \(ip), ports: [{name: http, port: 80}]}\n"
    }

    @Test func unchangedFilesAreNotParsedAgainAndChangesAreSeen() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("parsed-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.service("a", "10.96.0.1").write(toFile: dir + "/a.yaml", atomically: true, encoding: .utf8)
        try Self.service("b", "10.96.0.2").write(toFile: dir + "/b.yaml", atomically: true, encoding: .utf8)
        let files = ManifestFiles(path: dir)
        var cache: [String: ManifestFiles.ParsedFile] = [:]
        let first = try files.load(reusing: &cache)
        #expect(first.services.count == 2 && cache.count == 2)

        // Stand a marker in for a.yaml's cached objects: if a.yaml is not parsed again, the marker shows.
        var marker = ManifestSet()
        marker.ignoredKinds = ["Marker"]
        cache[dir + "/a.yaml"]!.objects = marker
        try Self.service("c", "10.96.0.3").write(toFile: dir + "/c.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: dir + "/b.yaml")
        let second = try files.load(reusing: &cache)
        #expect(second.ignoredKinds == ["Marker"], "a.yaml was parsed again")
        #expect(Set(second.services.keys.map(\.name)) == ["c"])
        #expect(cache.keys.sorted() == [dir + "/a.yaml", dir + "/c.yaml"])

        // The same Service in two files is refused, as within one file.
        try Self.service("c", "10.96.0.4").write(toFile: dir + "/d.yaml", atomically: true, encoding: .utf8)
        #expect(throws: ManifestError.self) { try files.load(reusing: &cache) }
    }
}
