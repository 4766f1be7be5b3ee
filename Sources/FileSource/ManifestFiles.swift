#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The manifest files behind a `manifests:` path (one file, or the YAML/JSON files of a directory),
/// and a cheap signature of them that changes when any is edited, added, removed or replaced.
public struct ManifestFiles: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// Files in name order (so "first error" and duplicates are reported the same way every time).
    public func list() throws(ManifestError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ManifestError(file: path, message: "no such file or directory")
        }
        guard isDirectory.boolValue else { return [path] }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw ManifestError(file: path, message: "cannot list directory: \(error.localizedDescription)")
        }
        // Skip hidden entries: Kubernetes ConfigMap volumes keep their real files in `..data` dirs.
        return names.filter { name in !name.hasPrefix(".") && [".yaml", ".yml", ".json"].contains { name.hasSuffix($0) } }
            .sorted().map { path.hasSuffix("/") ? path + $0 : path + "/" + $0 }
    }

    /// Changes whenever a file's identity, size or modification time changes.
    public func signature() -> [String] {
        ((try? list()) ?? []).compactMap(Self.signature(of:))
    }

    static func signature(of file: String) -> String? {
        var st = stat()
        guard stat(file, &st) == 0 else { return nil }
        return "\(file) \(st.st_ino) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
    }

    /// One file's objects, kept while the file's signature stays the same.
    public struct ParsedFile: Sendable {
        var signature: String
        var objects: ManifestSet
    }

    /// Reads and parses every file; the first error fails the whole reading.
    public func load(proxyName: String? = nil) throws(ManifestError) -> ManifestSet {
        var nothingCached: [String: ParsedFile] = [:]
        return try load(proxyName: proxyName, reusing: &nothingCached)
    }

    /// The same, parsing only the files whose signature changed since `cache` was filled (a new
    /// Service in its own file beside a thousand others costs one file's parse, not a thousand);
    /// `cache` then holds this reading's files.
    public func load(proxyName: String? = nil, reusing cache: inout [String: ParsedFile]) throws(ManifestError) -> ManifestSet {
        var set = ManifestSet()
        var next: [String: ParsedFile] = [:]
        for file in try list() {
            // Taken before reading: an edit racing with the read changes it again, and is read next time.
            let signature = Self.signature(of: file)
            let objects: ManifestSet
            if let signature, let cached = cache[file], cached.signature == signature {
                objects = cached.objects
            } else {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw ManifestError(file: file, message: "cannot read file")
                }
                guard let text = String(data: data, encoding: .utf8) else {
                    throw ManifestError(file: file, message: "not UTF-8 text")
                }
                var parsed = ManifestSet()
                try parsed.add(yaml: text, file: file, proxyName: proxyName)
                objects = parsed
            }
            try set.merge(objects, from: file)
            if let signature { next[file] = ParsedFile(signature: signature, objects: objects) }
        }
        cache = next
        return set
    }
}
