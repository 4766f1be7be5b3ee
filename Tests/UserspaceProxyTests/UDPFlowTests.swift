import Testing
@_spi(Benchmarks) @testable import UserspaceProxy

@Suite struct UDPFlowTests {
    @Test(arguments: [TestNet.loopback4, TestNet.loopback6])
    func repliesComeBackFromTheServiceAddress(ip: IPAddress) async throws {
        let backends = try (0..<2).map { try UDPBackend(name: "u\($0)", ip: ip) }
        defer { backends.forEach { $0.stop() } }
        try await withProxy { proxy in
            let listen = ProxyAddress(ip: ip, port: TestNet.unusedPort(ip, .udp))
            let rule = ForwardingRule(name: "kube-system/dns:dns", protocol: .udp, listenAddresses: [listen],
                                      backends: backends.map(\.address))
            #expect(proxy.apply([rule]).isEmpty)
            let replies = try await onThread { () -> [String] in
                let alice = UDPClient(ip: ip), bob = UDPClient(ip: ip)
                var replies: [String] = []
                for (client, text) in [(alice, "a1"), (bob, "b1"), (alice, "a2"), (bob, "b2")] {
                    client.send(text, to: listen)
                    guard let (reply, from) = client.receive() else { throw TestFailure("no reply to \(text)") }
                    guard from == listen else { throw TestFailure("reply from \(from), not \(listen)") }
                    replies.append(reply)
                }
                return replies
            }
            // One flow per client: alice's datagrams all go to her first pick, bob's to his.
            #expect(replies == ["u0:a1", "u1:b1", "u0:a2", "u1:b2"])
            // The loop counts a reply after sending it, so the client may read it first: poll.
            #expect(await eventually {
                guard let stats = proxy.statistics()["kube-system/dns:dns"] else { return false }
                return stats.udpFlowsTotal == 2 && stats.bytesClientToBackend == 8 && stats.bytesBackendToClient == 20
            })
        }
    }

    /// A wildcard listener (the userspace mode's portals) answers from the address each client sent
    /// to, not the one the kernel would pick for the reply: 127.0.0.2 here, where routing picks
    /// 127.0.0.1. After a redirect, that is what lets conntrack turn the reply back into the ClusterIP.
    @Test func aWildcardListenerRepliesFromTheAddressTheClientSentTo() async throws {
        let backend = try UDPBackend(name: "u")
        defer { backend.stop() }
        try await withProxy { proxy in
            let wildcard = IPAddress("0.0.0.0")!
            let port = TestNet.unusedPort(wildcard, .udp)
            proxy.apply([ForwardingRule(name: "ns/dns:dns", protocol: .udp, listenAddresses: [ProxyAddress(ip: wildcard, port: port)],
                                        backends: [backend.address])])
            let replies = try await onThread { () -> [ProxyAddress] in
                let client = UDPClient()
                var senders: [ProxyAddress] = []
                for target in ["127.0.0.2", "127.0.0.1", "127.0.0.2"] {
                    client.send("q", to: ProxyAddress(ip: IPAddress(target)!, port: port))
                    guard let (_, from) = client.receive() else { throw TestFailure("no reply via \(target)") }
                    senders.append(from)
                }
                return senders
            }
            #expect(replies.map(\.description) == ["127.0.0.2:\(port)", "127.0.0.1:\(port)", "127.0.0.2:\(port)"])
        }
    }

    @Test func idleFlowsAreForgotten() async throws {
        let backend = try UDPBackend(name: "u")
        defer { backend.stop() }
        try await withProxy(tune: { $0.udpFlowTimeout = .milliseconds(50) }) { proxy in
            let listen = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort(TestNet.loopback4, .udp))
            proxy.apply([ForwardingRule(name: "ns/udp:p", protocol: .udp, listenAddresses: [listen], backends: [backend.address])])
            let reply = try await onThread { () -> String? in
                let client = UDPClient()
                client.send("hi", to: listen)
                return client.receive()?.0
            }
            #expect(reply == "u:hi")
            #expect(proxy.statistics()["ns/udp:p"]?.udpFlowsTotal == 1)
            #expect(await eventually { proxy.statistics()["ns/udp:p"]?.udpFlowsActive == 0 })
        }
    }

    @Test func flowsToARemovedEndpointAreDropped() async throws {
        let first = try UDPBackend(name: "first"), second = try UDPBackend(name: "second")
        defer { first.stop(); second.stop() }
        try await withProxy { proxy in
            let listen = ProxyAddress(ip: TestNet.loopback4, port: TestNet.unusedPort(TestNet.loopback4, .udp))
            var rule = ForwardingRule(name: "ns/dns:dns", protocol: .udp, listenAddresses: [listen], backends: [first.address])
            proxy.apply([rule])
            let client = UDPClient()
            let before = try await onThread { () -> String? in
                client.send("q1", to: listen)
                return client.receive()?.0
            }
            #expect(before == "first:q1")
            rule.backends = [second.address]
            proxy.apply([rule])
            let after = try await onThread { () -> String? in
                client.send("q2", to: listen)
                return client.receive()?.0
            }
            #expect(after == "second:q2")
            #expect(proxy.statistics()["ns/dns:dns"]?.udpFlowsTotal == 2)
        }
    }
}
