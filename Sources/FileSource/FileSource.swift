import Logging
import ProxyModel

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

    public init(path: String, store: ClusterStore, logger: Logger, pollInterval: Duration = .milliseconds(500), proxyName: String? = nil) {
        files = ManifestFiles(path: path)
        self.store = store
        self.logger = logger
        self.pollInterval = pollInterval
        self.proxyName = proxyName
        store.expectInitialSync(of: FileSource.sourceName)
    }

    /// Loads the manifests once; an error here is fatal for start-up (there is no good state yet).
    public func loadInitial() throws(ManifestError) -> ManifestSet {
        let set = try files.load(proxyName: proxyName)
        apply(set, previous: nil)
        store.markSynced(FileSource.sourceName)
        return set
    }

    /// Watches for edits until cancelled, starting from the state `loadInitial` returned.
    public func watch(from initial: ManifestSet) async {
        var current = initial
        var signature = files.signature()
        while !Task.isCancelled {
            try? await Task.sleep(for: pollInterval)
            let now = files.signature()
            guard now != signature else { continue }
            signature = now
            do {
                let next = try files.load(proxyName: proxyName)
                guard next != current else { continue }
                apply(next, previous: current)
                logger.info("manifests reloaded", metadata: ["path": "\(files.path)", "services": "\(next.services.count)", "endpointSlices": "\(next.slices.count)"])
                current = next
            } catch {
                logger.error("manifests not reloaded, keeping the last good state: \(error)")
            }
        }
    }

    private func apply(_ set: ManifestSet, previous: ManifestSet?) {
        if let kinds = Set(set.ignoredKinds).sorted().nilIfEmpty {
            logger.debug("ignored objects of kinds \(kinds.joined(separator: ", "))")
        }
        store.update(now: Date().timeIntervalSince1970) { state in
            for name in previous?.services.keys ?? [:].keys where set.services[name] == nil {
                state.setService(name, ports: nil)
            }
            for (name, ports) in set.services { state.setService(name, ports: ports) }
            for (name, slice) in previous?.slices ?? [:] where set.slices[name] == nil {
                state.removeEndpointSlice(name, service: slice.service)
            }
            for slice in set.slices.values { state.setEndpointSlice(slice) }
        }
    }
}

extension Array {
    var nilIfEmpty: Self? { isEmpty ? nil : self }
}
