import Testing
@testable import UserspaceProxy

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
            let stats = try #require(proxy.statistics()["kube-system/dns:dns"])
            #expect(stats.udpFlowsTotal == 2)
            #expect(stats.bytesClientToBackend == 8)
            #expect(stats.bytesBackendToClient == 20)
        }
    }
}
