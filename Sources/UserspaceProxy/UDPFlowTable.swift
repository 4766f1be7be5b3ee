import Glibc

/// One loop's SO_REUSEPORT UDP socket for a rule's address and the flows of the clients it hears
/// from. The kernel hashes a client's datagrams to one of the loops' sockets, so each client's
/// flow lives in one loop.
final class UDPListener {
    let fd: Int32
    let key: ListenerKey
    @exclusivity(unchecked) var rule: LiveRule
    @exclusivity(unchecked) private(set) var flows: [ProxyAddress: UDPFlow] = [:]
    /// Who goes first when a cap is reached (`UDPFlowAges`).
    @exclusivity(unchecked) private var ages = UDPFlowAges()

    init(fd: Int32, key: ListenerKey, rule: LiveRule) {
        self.fd = fd
        self.key = key
        self.rule = rule
    }

    func receiveAll(on loop: EventLoop) {
        let buffer = loop.datagramBuffer
        var budget = loop.tuning.readBudget
        while true {
            guard budget > 0 else { return loop.continueLater(fd) }
            budget -= 1
            let (result, peer, destination) = buffer.receiveDatagram(from: fd)
            guard case .transferred(let n) = result else { return }
            guard let peer, let flow = flows[peer] ?? openFlow(for: peer, on: loop) else { continue }
            flow.lastActivity = loop.now
            flow.localAddress = destination
            switch buffer.sendDatagram(to: flow.fd) {
            case .transferred, .endOfFile:
                rule.counters.bytesClientToBackend.add(UInt64(n))
            case .failed(ECONNREFUSED):
                // An earlier datagram met a closed port: forget the flow, the next one picks again.
                rule.counters.dialFailures.add(1)
                close(flow, on: loop)
            case .wouldBlock, .failed:
                break // UDP may drop; so do we.
            }
        }
    }

    /// A connected socket toward the chosen endpoint, so its replies come back to this flow only.
    private func openFlow(for client: ProxyAddress, on loop: EventLoop) -> UDPFlow? {
        guard let choice = rule.choose(client: client.ip) else {
            rule.counters.connectionsRejected.add(1)
            return nil
        }
        if flows.count >= loop.tuning.maxUDPFlowsPerRule || loop.udpFlowCount >= loop.tuning.maxUDPFlowsPerLoop {
            guard let oldest = ages.leastRecentlyActive() else {
                rule.counters.udpFlowsRefused.add(1)
                return nil
            }
            close(oldest, on: loop)
            rule.counters.udpFlowsEvicted.add(1)
        }
        let count = choice.backends.count
        for attempt in 0..<count {
            let backend = choice.backends[(choice.first + attempt) % count]
            if attempt > 0 { rule.counters.dialRetries.add(1) }
            guard case .connected(let fd) = Socket.dial(.udp, to: backend) else {
                rule.counters.dialFailures.add(1)
                continue
            }
            let flow = UDPFlow(fd: fd, client: client, backend: backend, listener: self, now: loop.now)
            flows[client] = flow
            ages.append(flow, flowCount: flows.count)
            loop.udpFlowCount += 1
            loop.register(fd, .udpFlow(flow))
            rule.counters.udpFlowsActive.add(1)
            rule.counters.udpFlowsTotal.add(1)
            return flow
        }
        return nil
    }

    func close(_ flow: UDPFlow, on loop: EventLoop) {
        guard flows.removeValue(forKey: flow.client) != nil else { return }
        flow.isOpen = false
        loop.udpFlowCount -= 1
        loop.retire(flow.fd, reset: false)
        rule.counters.udpFlowsActive.add(-1)
    }

    func dropFlows(keeping backends: Set<ProxyAddress>, on loop: EventLoop) {
        for flow in flows.values where !backends.contains(flow.backend) { close(flow, on: loop) }
    }

    func closeAll(on loop: EventLoop) {
        for flow in flows.values { close(flow, on: loop) }
    }
}

/// One client's conversation with its endpoint; replies leave through the listener's socket, from
/// the address the client's datagrams were sent to, so the client sees them come from the service
/// address it sent to (directly, or once conntrack has undone a redirect).
final class UDPFlow {
    let fd: Int32
    let client: ProxyAddress
    let backend: ProxyAddress
    unowned let listener: UDPListener
    @exclusivity(unchecked) var lastActivity: UInt64
    /// Where the client's latest datagram was sent to (a wildcard listener has many addresses).
    @exclusivity(unchecked) var localAddress: IPAddress?
    /// Still in its listener's table.
    @exclusivity(unchecked) var isOpen = true

    init(fd: Int32, client: ProxyAddress, backend: ProxyAddress, listener: UDPListener, now: UInt64) {
        self.fd = fd
        self.client = client
        self.backend = backend
        self.listener = listener
        lastActivity = now
    }

    func receiveAll(on loop: EventLoop) {
        let buffer = loop.datagramBuffer
        lastActivity = loop.now
        var budget = loop.tuning.readBudget
        while true {
            guard budget > 0 else { return loop.continueLater(fd) }
            budget -= 1
            switch buffer.receiveDatagram(fromConnected: fd) {
            case .transferred(let n):
                if case .transferred = buffer.sendDatagram(from: listener.fd, to: client, source: localAddress) {
                    listener.rule.counters.bytesBackendToClient.add(UInt64(n))
                }
            case .failed(ECONNREFUSED):
                listener.rule.counters.dialFailures.add(1)
                listener.close(self, on: loop)
                return
            case .wouldBlock, .endOfFile, .failed:
                return
            }
        }
    }
}
