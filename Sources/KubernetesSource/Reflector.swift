import AsyncHTTPClient
import Foundation
import KubernetesAPI
import Logging
import NIOCore
import NIOFoundationCompat
import ProxyModel

/// How a reflector pages, watches and retries.
public struct ReflectorSettings: Sendable {
    /// Objects per LIST page (`limit`).
    public var pageSize: Int
    /// Asked of the server as `timeoutSeconds`; the watch then ends cleanly and is made again.
    public var watchTimeout: Duration
    /// A LIST page or WATCH that sends nothing for this long is dropped and made again.
    public var stallTimeout: Duration
    public var backoff: Backoff
    /// How long one attempt to reach the server may take (the HTTP client retries within it).
    public var connectTimeout: Duration
    /// A LIST page larger than this is an error (the server ignored `limit`?).
    public var maxPageBytes: Int

    public init(pageSize: Int = 500, watchTimeout: Duration = .seconds(300), stallTimeout: Duration = .seconds(90),
                backoff: Backoff = Backoff(), connectTimeout: Duration = .seconds(10), maxPageBytes: Int = 512 << 20) {
        self.pageSize = pageSize
        self.watchTimeout = watchTimeout
        self.stallTimeout = stallTimeout
        self.backoff = backoff
        self.connectTimeout = connectTimeout
        self.maxPageBytes = maxPageBytes
    }
}

/// Keeps one resource current in the store, as client-go's reflector does: LIST (paged), then
/// WATCH from the list's resourceVersion; on `410 Gone` LIST again and turn the difference into
/// deletes; on a dropped or stalled watch, WATCH again from the last resourceVersion seen. Errors
/// never remove anything from the store.
final class Reflector<Resource: ReflectedResource> {
    struct WatchError: Error, CustomStringConvertible {
        var status: StatusObject
        var description: String { "watch ERROR event: \(status.code.map(String.init) ?? "?") \(status.reason ?? "") \(status.message ?? "")" }
    }

    struct WatchCut: Error, CustomStringConvertible {
        var description: String { "watch stream ended in the middle of an event" }
    }

    let resource: Resource
    let client: APIClient
    let store: ClusterStore
    /// The name this reflector's first LIST is awaited under (`ClusterStore.expectInitialSync`).
    let syncName: String
    let settings: ReflectorSettings
    let logger: Logger
    let metrics: SourceMetrics
    let now: @Sendable () -> Double

    private var records: [NamespacedName: Resource.Record] = [:]
    private var resourceVersion: String?
    private var hasSynced = false
    /// The current watch has delivered events (so a failure after it is not a failing server).
    private var watchDelivered = false
    private let decoder = JSONDecoder()

    init(resource: Resource, client: APIClient, store: ClusterStore, syncName: String, settings: ReflectorSettings,
         logger: Logger, metrics: SourceMetrics, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.resource = resource
        self.client = client
        self.store = store
        self.syncName = syncName
        self.settings = settings
        var logger = logger
        logger[metadataKey: "resource"] = "\(resource.resource)"
        self.logger = logger
        self.metrics = metrics
        self.now = now
    }

    /// Lists and watches until the task is cancelled.
    func run() async throws {
        var backoff = settings.backoff
        var mustList = true
        var goneInARow = 0
        while true {
            try Task.checkCancellation()
            do {
                if mustList {
                    try await list()
                    mustList = false
                }
                let started = ContinuousClock.now
                try await watch()
                if watchDelivered || ContinuousClock.now - started > .seconds(1) {
                    // The server ended the watch at timeoutSeconds: watch again at once.
                    backoff.reset()
                    goneInARow = 0
                } else {
                    // Ended at once with nothing in it: do not spin against such a server.
                    try await Task.sleep(for: backoff.next())
                }
            } catch {
                if Task.isCancelled { throw CancellationError() }
                if watchDelivered {
                    backoff.reset()
                    goneInARow = 0
                }
                if Self.isGone(error) {
                    metrics.relisted(resource.resource)
                    logger.info("resourceVersion \(resourceVersion ?? "") is gone; listing \(resource.resource) again")
                    mustList = true
                    goneInARow += 1
                    // One relist is immediate; a server that keeps answering 410 is waited for.
                    if goneInARow > 1 { try await Task.sleep(for: backoff.next()) }
                    continue
                }
                if !mustList, Self.isSilence(error) {
                    // A watch with nothing to say for stallTimeout (an API server that sends no
                    // bookmarks, or a connection that died quietly): watch again at once from the
                    // same resourceVersion; a renewal, not a reconnect worth counting or telling.
                    logger.debug("WATCH \(resource.path) quiet for \(settings.stallTimeout); watching again")
                    continue
                }
                let wait = backoff.next()
                if mustList {
                    logger.warning("LIST \(resource.path) failed, retrying in \(wait): \(error)")
                } else {
                    metrics.reconnected(resource.resource)
                    logger.info("WATCH \(resource.path) from \(resourceVersion ?? "") ended: \(error); watching again in \(wait)")
                }
                try await Task.sleep(for: wait)
            }
        }
    }

    /// The response sent nothing for `stallTimeout` (the HTTP client's read timeout).
    static func isSilence(_ error: any Error) -> Bool {
        (error as? HTTPClientError) == .readTimeout
    }

    static func isGone(_ error: any Error) -> Bool {
        if let e = error as? APIStatusError { return e.isGone }
        if let e = error as? WatchError { return e.status.isGone }
        return false
    }

    private var selectors: [(String, String)] {
        var query: [(String, String)] = []
        if let labels = resource.labelSelector { query.append(("labelSelector", labels)) }
        if let fields = resource.fieldSelector { query.append(("fieldSelector", fields)) }
        return query
    }

    /// A complete, paged LIST: everything listed is applied, everything held but not listed is
    /// removed, and the watch starts from the list's resourceVersion.
    private func list() async throws {
        watchDelivered = false
        var seen = Set<NamespacedName>()
        var token: String?
        var version: String?
        var count = 0
        repeat {
            var query = [("limit", String(settings.pageSize))]
            if let token {
                query.append(("continue", token))
            } else if !hasSynced {
                // As client-go's reflector: the first LIST is served from the API server's watch
                // cache (resourceVersion=0), not a quorum read of etcd, which matters when every
                // node of a cluster lists at once (a rollout, the API server's return). A relist
                // after 410 Gone reads the latest state, as client-go's does.
                query.append(("resourceVersion", "0"))
            }
            query += selectors
            let response = try await client.get(resource.path, query: query, timeout: settings.stallTimeout * 4)
            let body = try await response.body.collect(upTo: settings.maxPageBytes)
            let page = try decoder.decode(ObjectList<Resource.Object>.self, from: body)
            store.update(now: now()) { state in
                for item in page.items {
                    if let key = apply(item, to: &state) { seen.insert(key) }
                }
            }
            count += page.items.count
            token = page.metadata.continue.flatMap { $0.isEmpty ? nil : $0 }
            version = page.metadata.resourceVersion
        } while token != nil
        let gone = records.keys.filter { !seen.contains($0) }
        if !gone.isEmpty {
            store.update(now: now()) { state in
                for key in gone {
                    if let record = records.removeValue(forKey: key) { resource.remove(key, record: record, from: &state) }
                }
            }
        }
        resourceVersion = version
        logger.debug("listed \(count) \(resource.resource) at resourceVersion \(version ?? ""), \(gone.count) gone")
        if !hasSynced {
            hasSynced = true
            store.markSynced(syncName)
        }
    }

    /// One WATCH, read event by event as the chunks arrive, until the server ends it.
    private func watch() async throws {
        watchDelivered = false
        var query = [("watch", "true"), ("allowWatchBookmarks", "true"),
                     ("timeoutSeconds", String(max(1, settings.watchTimeout.components.seconds)))]
        if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
        query += selectors
        let response = try await client.get(resource.path, query: query, timeout: settings.watchTimeout + .seconds(60))
        var events = WatchEventDecoder<Resource.Object>()
        for try await chunk in response.body {
            let batch = try events.feed(chunk)
            if batch.isEmpty { continue }
            watchDelivered = true
            try apply(batch)
        }
        if events.hasPartialLine { throw WatchCut() }
    }

    private func apply(_ batch: [WatchEvent<Resource.Object>]) throws {
        let changes = batch.contains { if case .bookmark = $0 { return false } else { return true } }
        guard changes else {
            for case .bookmark(let v?) in batch { resourceVersion = v }
            return
        }
        var failure: WatchError?
        store.update(now: now()) { state in
            for event in batch {
                switch event {
                case .added(let item), .modified(let item):
                    _ = apply(item, to: &state)
                    if case .object(let o) = item, let v = o.metadata.resourceVersion { resourceVersion = v }
                case .deleted(let item):
                    switch item {
                    case .object(let o):
                        if let record = records.removeValue(forKey: o.key) { resource.remove(o.key, record: record, from: &state) }
                        if let v = o.metadata.resourceVersion { resourceVersion = v }
                    case .undecodable(let namespace, let name?, _):
                        let key = NamespacedName(namespace: namespace ?? "default", name: name)
                        if let record = records.removeValue(forKey: key) { resource.remove(key, record: record, from: &state) }
                    case .undecodable:
                        break
                    }
                case .bookmark(let v):
                    if let v { resourceVersion = v }
                case .error(let status):
                    failure = WatchError(status: status)
                    return
                }
            }
        }
        if let failure { throw failure }
    }

    /// Applies one listed or watched object; returns its key when it has one (even when rejected:
    /// a rejected object keeps its previous version, it is not deleted).
    private func apply(_ item: Decoded<Resource.Object>, to state: inout ClusterState) -> NamespacedName? {
        switch item {
        case .object(let object):
            let key = object.key
            do {
                records[key] = try resource.apply(object, previous: records[key], to: &state)
            } catch {
                metrics.rejected(resource.kind)
                logger.warning("skipping \(error)")
            }
            return key
        case .undecodable(let namespace, let name, let reason):
            metrics.rejected(resource.kind)
            let key = name.map { NamespacedName(namespace: namespace ?? "default", name: $0) }
            logger.warning("skipping \(resource.kind) \(key?.description ?? "without a name"): does not decode: \(reason)")
            return key
        }
    }
}
