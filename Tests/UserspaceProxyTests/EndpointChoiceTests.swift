import Testing
@_spi(Benchmarks) @testable import UserspaceProxy

@Suite struct RoundRobinTests {
    @Test func rotatesExactly() {
        let rr = RoundRobin()
        #expect((0..<7).map { _ in rr.next(count: 3) } == [0, 1, 2, 0, 1, 2, 0])
    }

    @Test func aRuleRotatesOverItsCurrentEndpoints() throws {
        let rule = LiveRule(name: "ns/svc:p", protocol: .tcp)
        let a = try ProxyAddress("10.0.0.1:80"), b = try ProxyAddress("10.0.0.2:80")
        rule.update(backends: [a, b], affinityTimeout: nil)
        let picks = (0..<4).map { _ -> ProxyAddress in
            let c = rule.choose(client: nil)!
            return c.backends[c.first]
        }
        #expect(picks == [a, b, a, b])
        rule.update(backends: [], affinityTimeout: nil)
        #expect(rule.choose(client: nil) == nil)
    }
}

@Suite struct ClientAffinityTests {
    let start = ContinuousClock.now
    let backend1 = try! ProxyAddress("10.0.0.1:80")
    let backend2 = try! ProxyAddress("10.0.0.2:80")
    let client = IPAddress("192.168.1.5")!

    @Test func sticksWhileUsedAndExpiresWhenIdleLongerThanTheTimeout() {
        var affinity = ClientAffinity(timeout: .seconds(10))
        #expect(affinity.backend(for: client, now: start) == nil)
        affinity.record(backend1, for: client, now: start)
        // Each use refreshes the idle time: 9 s steps never reach the 10 s timeout.
        #expect(affinity.backend(for: client, now: start + .seconds(9)) == backend1)
        #expect(affinity.backend(for: client, now: start + .seconds(18)) == backend1)
        #expect(affinity.backend(for: client, now: start + .seconds(28)) == backend1)
        #expect(affinity.backend(for: client, now: start + .seconds(38) + .milliseconds(1)) == nil)
        #expect(affinity.entries.isEmpty)
    }

    @Test func forgetsClientsOfEndpointsThatWentAway() {
        var affinity = ClientAffinity(timeout: .seconds(10))
        affinity.record(backend1, for: client, now: start)
        affinity.record(backend2, for: IPAddress("192.168.1.6")!, now: start)
        affinity.keep(only: [backend2])
        #expect(affinity.backend(for: client, now: start) == nil)
        #expect(affinity.entries.count == 1)
    }

    @Test func aFullTableForgetsItsLeastRecentlySeenClientsFirst() {
        var affinity = ClientAffinity(timeout: .seconds(3600), maxClients: 16)
        let clients = (1...16).map { IPAddress("192.168.2.\($0)")! }
        for (i, c) in clients.enumerated() { affinity.record(backend1, for: c, now: start + .seconds(i)) }
        // The first client is seen again: now the second and third are the least recently seen.
        #expect(affinity.backend(for: clients[0], now: start + .seconds(20)) == backend1)
        affinity.record(backend2, for: IPAddress("192.168.3.1")!, now: start + .seconds(21))
        #expect(affinity.entries.count == 15)   // an eighth (2) forgotten, one added
        #expect(affinity.entries[clients[1]] == nil && affinity.entries[clients[2]] == nil)
        #expect(affinity.entries[clients[0]] != nil && affinity.entries[clients[3]] != nil)
        for i in 0..<1000 { affinity.record(backend1, for: IPAddress("10.9.\(i / 250).\(i % 250)")!, now: start + .seconds(30 + i)) }
        #expect(affinity.entries.count <= 16)
    }

    @Test func pruneDropsOnlyExpiredClients() {
        var affinity = ClientAffinity(timeout: .seconds(10))
        affinity.record(backend1, for: client, now: start)
        affinity.record(backend2, for: IPAddress("192.168.1.6")!, now: start + .seconds(5))
        affinity.prune(now: start + .seconds(12))
        #expect(affinity.entries.keys.map(\.description) == ["192.168.1.6"])
    }

    @Test func aRuleWithAffinityKeepsAClientOnItsEndpointAcrossRotation() {
        let clock = ManualClock()
        let rule = LiveRule(name: "ns/svc:p", protocol: .tcp, clock: { clock.now })
        rule.update(backends: [backend1, backend2], affinityTimeout: .seconds(10))
        let other = IPAddress("192.168.1.9")!
        func pick(_ ip: IPAddress) -> ProxyAddress { let c = rule.choose(client: ip)!; return c.backends[c.first] }
        #expect(pick(client) == backend1)
        #expect(pick(other) == backend2)
        #expect(pick(client) == backend1)
        clock.advance(by: .seconds(11))
        // Both expired: each gets the next round-robin pick, which swaps them.
        #expect(pick(other) == backend1)
        #expect(pick(client) == backend2)
        #expect(pick(client) == backend2)
        rule.remember(backend1, for: client) // a retry landed on backend1
        #expect(pick(client) == backend1)
    }
}
