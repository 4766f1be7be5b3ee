import Synchronization

/// What /healthz and the metrics need to know about syncing, updated by the SyncRunner.
public final class SyncStatus: Sendable {
    public struct Values: Sendable, Equatable {
        /// Wall-clock seconds of the last successful sync.
        public var lastSuccess: Double?
        public var lastFailure: Double?
        public var consecutiveFailures = 0
        public var syncs = 0
        public var lastDurationSeconds: Double?
        public var generation = 0
        /// Wall-clock seconds of the oldest change not yet programmed (kube-proxy's "oldest pending
        /// queued"); nil when everything recorded is in force.
        public var oldestQueuedChange: Double?
    }

    private let values = Mutex(Values())

    public init() {}

    public var current: Values { values.withLock { $0 } }

    func record(_ body: (inout Values) -> Void) { values.withLock { body(&$0) } }
}
