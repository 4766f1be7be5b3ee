import ProxyModel
import Synchronization

/// The snapshot of the last successful sync, for `/status`.
final class LastProgrammed: SyncObserver {
    private let snapshot = Mutex<ProxySnapshot?>(nil)

    var current: ProxySnapshot? { snapshot.withLock { $0 } }

    func synced(_ sync: CompletedSync) async { snapshot.withLock { $0 = sync.snapshot } }
}
