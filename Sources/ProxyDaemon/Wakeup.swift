import Synchronization

/// A one-slot wake-up signal: `signal()` from anywhere; `wait(for:)` returns when signalled or after
/// the timeout, whichever is first. Signals while nobody waits are remembered once (bursts coalesce),
/// as in kube-proxy's BoundedFrequencyRunner.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func signal() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock {
            if let w = $0.waiter {
                $0.waiter = nil
                return w
            }
            $0.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// True when woken by a signal, false on timeout or cancellation.
    func wait(for timeout: Duration) async -> Bool {
        let alreadySignalled = state.withLock { s in
            let p = s.pending
            s.pending = false
            return p
        }
        if alreadySignalled { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.waitForSignal(); return !Task.isCancelled }
            group.addTask { try? await Task.sleep(for: timeout); return false }
            let first = await group.next() ?? false
            // Cancelling resumes whichever side lost (the signal waiter's cancellation handler resumes it).
            group.cancelAll()
            return first
        }
    }

    private func waitForSignal() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow: Bool = state.withLock {
                    if $0.pending || Task.isCancelled {
                        $0.pending = false
                        return true
                    }
                    $0.waiter = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let waiter: CheckedContinuation<Void, Never>? = state.withLock { s in
                let w = s.waiter
                s.waiter = nil
                return w
            }
            waiter?.resume()
        }
    }
}
