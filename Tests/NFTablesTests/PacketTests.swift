import Foundation
import Testing
@testable import NFTables

/// Real packets: a client namespace joined to a backend namespace by a veth pair. Rules built by
/// this module in the client's namespace send a connection for a service address to the backend,
/// or reject it when the service has no endpoints. Traffic stays between the two namespaces.
@Suite(.enabled(if: canUseNamespaces && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs root, ip, nft and python3"))
struct PacketTests {
    @Test func dnatToTheBackendAndRejectWithoutEndpoints() throws {
        let client = try TestNamespace()
        defer { client.remove() }
        let backend = try TestNamespace()
        defer { backend.remove() }
        let clientLink = "c\(client.name.suffix(8))"
        try run(["ip", "link", "add", clientLink, "netns", client.name, "type", "veth", "peer", "name", "b0", "netns", backend.name])
        for (namespace, link, address) in [(client, clientLink, "10.200.0.1/24"), (backend, "b0", "10.200.0.2/24")] {
            try namespace.exec(["ip", "addr", "add", address, "dev", link])
            try namespace.exec(["ip", "link", "set", link, "up"])
            try namespace.exec(["ip", "link", "set", "lo", "up"])
        }
        try client.exec(["ip", "route", "add", "default", "via", "10.200.0.2"])

        let table = NFTTable(family: .ip, name: "swift-kube-proxy")
        let natOutput = NFTChain.base("nat-output", in: table, type: .nat, hook: .output, priority: NFTPriority.dstnat)
        let filterOutput = NFTChain.base("filter-output", in: table, type: .filter, hook: .output, priority: NFTPriority.filter - 10)
        let serviceIPs = NFTSet.map("service-ips", in: table, key: .concat(.ipv4Addr, .inetProto, .inetService), to: .verdict)
        let noEndpoints = NFTSet.map("no-endpoint-services", in: table, key: .concat(.ipv4Addr, .inetProto, .inetService), to: .verdict)
        var batch = NFTBatch()
        batch.add(table)
        batch.add(serviceIPs)
        batch.add(noEndpoints)
        for chain in [natOutput, filterOutput] { batch.add(chain) }
        for name in ["service-web", "endpoint-web-1", "reject-chain"] { batch.add(NFTChain.regular(name, in: table)) }
        batch.add(NFTRule(in: natOutput, [.lookup([.ipDaddr, .l4proto, .thDport], vmap: "service-ips")]))
        batch.add(NFTRule(in: filterOutput, [.ctState(.new), .lookup([.ipDaddr, .l4proto, .thDport], vmap: "no-endpoint-services")]))
        batch.add(NFTRule(table: table, chain: "service-web", [.numgen(.random, vmap: [.goto("endpoint-web-1")])]))
        batch.add(NFTRule(table: table, chain: "endpoint-web-1",
                          [.match(.l4proto, .proto(.tcp)), .dnat(to: NFTValue(ipv4: "10.200.0.2")!, port: 8080)]))
        batch.add(NFTRule(table: table, chain: "reject-chain", [.reject(.tcpReset)]))
        batch.add([.verdict(.concat(NFTValue(ipv4: "172.30.0.10")!, .proto(.tcp), .port(80)), .goto("service-web"))], to: serviceIPs)
        batch.add([.verdict(.concat(NFTValue(ipv4: "172.30.0.11")!, .proto(.tcp), .port(80)), .goto("reject-chain"))], to: noEndpoints)
        try NFTConnection(networkNamespace: client.path).apply(batch)

        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        server.arguments = ["netns", "exec", backend.name, "python3", "-c", """
            import socket
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("10.200.0.2", 8080)); s.listen(1); s.settimeout(10)
            c, _ = s.accept(); c.sendall(b"hello-from-backend"); c.close()
            """]
        try server.run()
        defer { if server.isRunning { server.terminate() } }

        let answer = try client.exec(["python3", "-c", """
            import socket, time
            for attempt in range(50):
                try:
                    c = socket.create_connection(("172.30.0.10", 80), timeout=2); print(c.recv(100).decode()); break
                except ConnectionRefusedError:
                    time.sleep(0.1)
            """])
        #expect(answer.contains("hello-from-backend"))

        let refused = try client.exec(["python3", "-c", """
            import socket
            try:
                socket.create_connection(("172.30.0.11", 80), timeout=2); print("connected")
            except ConnectionRefusedError:
                print("refused")
            except OSError as e:
                print("other", e)
            """])
        #expect(refused.contains("refused"))
    }
}
