import Testing
@_spi(Benchmarks) @testable import UserspaceProxy

/// A flood of new source ports cannot take a loop's descriptors: flows are capped per rule and per
/// loop, the least recently active go first, and one rule's flood never evicts another's flows.
@Suite struct UDPFlowCapTests {
    /// Sends `text` from `client` and waits for the answer; false if none came.
    static func roundTrip(_ client: UDPClient, _ text: String, to address: ProxyAddress) -> Bool {
        client.send(text, to: address)
        return client.receive() != nil
    }

    @Test func theLeastRecentlyActiveFlowIsEvictedAtTheRuleCap() async throws {
        let backend = try UDPBackend(name: "u")
        defer { backend.stop() }
        try await withProxy(loops: 1, tune: { $0.maxUDPFlowsPerRule = 4 }) { proxy in
            let listen = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort(TestNet.loopback4, .udp))
            proxy.apply([ForwardingRule(name: "ns/dns:dns", protocol: .udp, listenAddresses: [listen], backends: [backend.address])])
            let stats = { proxy.statistics()["ns/dns:dns"] ?? RuleStatistics() }
            let answered = try await onThread { () -> [Bool] in
                let a = UDPClient(), b = UDPClient(), c = UDPClient(), d = UDPClient(), e = UDPClient()
                var answers = [a, b, c, d].map { Self.roundTrip($0, "hello", to: listen) }   // the cap: 4 flows
                answers.append(Self.roundTrip(a, "again", to: listen))   // a is active again: b is now the oldest
                answers.append(Self.roundTrip(e, "new", to: listen))     // evicts b, not a
                answers.append(Self.roundTrip(a, "still", to: listen))   // a's flow is still there
                return answers
            }
            #expect(answered.allSatisfy { $0 })
            #expect(stats().udpFlowsTotal == 5)
            #expect(stats().udpFlowsEvicted == 1)
            #expect(stats().udpFlowsActive == 4)
            // b lost its flow; a new client now evicts c, the next least recently active.
            #expect(try await onThread { Self.roundTrip(UDPClient(), "x", to: listen) })
            #expect(stats().udpFlowsTotal == 6 && stats().udpFlowsEvicted == 2)
        }
    }

    @Test func aFloodedRuleNeverEvictsAnotherRulesFlowsAtTheLoopCap() async throws {
        let backend = try UDPBackend(name: "u")
        defer { backend.stop() }
        try await withProxy(loops: 1, tune: { $0.maxUDPFlowsPerLoop = 4; $0.maxUDPFlowsPerRule = 100 }) { proxy in
            let quiet = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort(TestNet.loopback4, .udp))
            let flooded = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort(TestNet.loopback4, .udp))
            proxy.apply([
                ForwardingRule(name: "ns/quiet:p", protocol: .udp, listenAddresses: [quiet], backends: [backend.address]),
                ForwardingRule(name: "ns/flood:p", protocol: .udp, listenAddresses: [flooded], backends: [backend.address]),
            ])
            let (quietClients, kept) = try await onThread { () -> ([UDPClient], [Bool]) in
                let clients = [UDPClient(), UDPClient()]
                let first = clients.map { Self.roundTrip($0, "q", to: quiet) }
                // 50 new source ports at the other rule: it may hold only the loop's remaining two.
                for _ in 0..<50 { _ = Self.roundTrip(UDPClient(), "f", to: flooded) }
                return (clients, first + clients.map { Self.roundTrip($0, "q2", to: quiet) })
            }
            #expect(kept.allSatisfy { $0 })
            let quietStats = try #require(proxy.statistics()["ns/quiet:p"])
            let floodStats = try #require(proxy.statistics()["ns/flood:p"])
            #expect(quietStats.udpFlowsTotal == 2 && quietStats.udpFlowsEvicted == 0, "the quiet rule kept its flows")
            #expect(floodStats.udpFlowsActive == 2)
            #expect(floodStats.udpFlowsEvicted == 48)
            // A third client of the quiet rule: the loop is full and the quiet rule evicts its own oldest.
            #expect(try await onThread { Self.roundTrip(UDPClient(), "q3", to: quiet) })
            #expect(proxy.statistics()["ns/quiet:p"]?.udpFlowsEvicted == 1)
            _ = quietClients
        }
    }

    /// With a read budget of one datagram per wake-up, a socket with more queued is served again
    /// after each batch (edge-triggered epoll would not report it again): nothing is left unread.
    @Test func aSocketWhoseBudgetRanOutIsServedAgain() async throws {
        let backend = try UDPBackend(name: "u")
        defer { backend.stop() }
        try await withProxy(loops: 1, tune: { $0.readBudget = 1 }) { proxy in
            let listen = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort(TestNet.loopback4, .udp))
            proxy.apply([ForwardingRule(name: "ns/dns:dns", protocol: .udp, listenAddresses: [listen], backends: [backend.address])])
            let replies = try await onThread { () -> Int in
                let client = UDPClient()
                for i in 0..<50 { client.send("m\(i)", to: listen) }
                var count = 0
                while count < 50, client.receive() != nil { count += 1 }
                return count
            }
            #expect(replies == 50)
        }
    }
}
