/// One loop's SO_REUSEPORT listening socket for a rule's address: accepts until EAGAIN (edge-
/// triggered), and pauses with a growing backoff when the process is out of descriptors.
final class TCPListener {
    let fd: Int32
    let key: ListenerKey
    @exclusivity(unchecked) var rule: LiveRule
    @exclusivity(unchecked) private var backoff: UInt64 = 0
    @exclusivity(unchecked) private(set) var paused = false

    init(fd: Int32, key: ListenerKey, rule: LiveRule) {
        self.fd = fd
        self.key = key
        self.rule = rule
    }

    func acceptAll(on loop: EventLoop) {
        guard !paused else { return }
        let wantPeer = rule.usesAffinity
        var budget = loop.tuning.readBudget
        while true {
            guard budget > 0 else { return loop.continueLater(fd) }
            budget -= 1
            switch Socket.accept(fd, wantPeer: wantPeer) {
            case .accepted(let client, let peer):
                backoff = 0 // TCP_NODELAY comes from the listening socket: accept4 inherits it.
                TCPRelay.start(client: client, clientIP: peer?.ip, rule: rule, on: loop)
            case .wouldBlock:
                return
            case .failed(let code) where code == ECONNABORTED || code == EINTR || code == EPROTO:
                continue
            case .failed(let code):
                // EMFILE/ENFILE/ENOBUFS: retrying at once would spin; the queued clients wait.
                rule.counters.acceptErrors.add(1)
                let tuning = loop.tuning
                backoff = backoff == 0 ? tuning.acceptBackoff.nanoseconds : min(backoff * 2, tuning.acceptBackoffLimit.nanoseconds)
                paused = true
                loop.logger.warning("accept failed, pausing", metadata: [
                    "rule": "\(rule.name)", "address": "\(key.address)", "errno": "\(code)", "pause_ms": "\(backoff / 1_000_000)",
                ])
                loop.resumeAccepting(self, after: backoff)
                return
            }
        }
    }

    func resume(on loop: EventLoop) {
        paused = false
        acceptAll(on: loop)
    }
}

import Glibc
