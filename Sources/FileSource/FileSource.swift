import Logging
import ProxyModel
import Synchronization

import Foundation

/// The embedded default source: Services and EndpointSlices declared in manifests on disk, re-read
/// when they change. A broken edit is reported and the last good state stays in force.
public final class FileSource: Sendable {
    public static let sourceName = "file"

    private let files: ManifestFiles
    private let store: ClusterStore
    private let logger: Logger
    private let pollInterval: Duration
    private let proxyName: String?
    private let counts = Mutex(ReloadCounts())

    /// How many edits were taken and how many were refused (the last good state stayed).
    public struct ReloadCounts: Sendable, Equatable {
        public var applied = 0
        public var rejected = 0
    }

    public var reloadCounts: ReloadCounts { counts.withLock { $0 } }

    public init(path: String, store: ClusterStore, logger: Logger, pollInterval: Duration = .milliseconds(500), proxyName: String? = nil) {
        files = ManifestFiles(path: path)
        self.store = store
        self.logger = logger
        self.pollInterval = pollInterval
        self.proxyName = proxyName
        store.expectInitialSync(of: FileSource.sourceName)
    }

    /// Loads the manifests once; an error here is fatal for start-up (there is no good state yet).
    public func loadInitial() throws(ManifestError) -> Checkpoint {
        // The signature is taken before reading, so an edit racing with the read is seen as a change.
        let signature = files.signature()
        var parsed: [String: ManifestFiles.ParsedFile] = [:]
        let set = try files.load(proxyName: proxyName, reusing: &parsed)
        apply(set, previous: nil)
        store.markSynced(FileSource.sourceName)
        return Checkpoint(manifests: set, signature: signature, parsed: parsed)
    }

    /// What was loaded, and the files' signature from just before, for `watch` to continue from.
    public struct Checkpoint: Sendable {
        public var manifests: ManifestSet
        var signature: [String]
        /// Each file's objects, so a reload parses only the files that changed.
        var parsed: [String: ManifestFiles.ParsedFile] = [:]
    }

    /// Watches for edits until cancelled, starting from the state `loadInitial` returned.
    public func watch(from checkpoint: Checkpoint) async {
        var current = checkpoint.manifests
        var signature = checkpoint.signature
        var parsed = checkpoint.parsed
        while !Task.isCancelled {
            try? await Task.sleep(for: pollInterval)
            let now = files.signature()
            guard now != signature else { continue }
            signature = now
            do {
                let next = try files.load(proxyName: proxyName, reusing: &parsed)
                guard next != current else { continue }
                apply(next, previous: current)
                logger.info("manifests reloaded", metadata: ["path": "\(files.path)", "services": "\(next.services.count)", "endpointSlices": "\(next.slices.count)"])
                current = next
                counts.withLock { $0.applied += 1 }
            } catch {
                counts.withLock { $0.rejected += 1 }
                logger.error("manifests not reloaded, keeping the last good state: \(error)")
            }
        }
    }

    private func apply(_ set: ManifestSet, previous: ManifestSet?) {
        if let kinds = Set(set.ignoredKinds).sorted().nilIfEmpty {
            logger.debug("ignored objects of kinds \(kinds.joined(separator: ", "))")
        }
        store.update(now: Date().timeIntervalSince1970) { set.apply(to: &$0, replacing: previous) }
    }
}

extension Array {
    var nilIfEmpty: Self? { isEmpty ? nil : self }
}
