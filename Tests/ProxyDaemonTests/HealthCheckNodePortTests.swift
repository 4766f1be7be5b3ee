import Foundation
import Logging
@testable import ProxyDaemon
import ProxyModel
import Testing

/// Which Services get a health check node port, and on which addresses it listens (upstream's
/// service_health.go), with real sockets on loopback addresses.
@Suite struct HealthCheckNodePortTests {
    let web = NamespacedName(namespace: "default", name: "web")

    func loadBalancer(healthCheckNodePort: Int, nodePort: Int = 30080, ingress: [String] = ["203.0.113.7"]) -> ServicePort {
        ServicePort(name: ServicePortName(service: web, port: "http", protocol: .tcp), clusterIPs: [IPAddress("172.30.0.10")!], port: 80,
                    nodePort: nodePort, loadBalancerIPs: ingress.map { IPAddress($0)! }, externalTrafficPolicy: .local,
                    healthCheckNodePort: healthCheckNodePort)
    }

    func sync(_ service: ServicePort) -> CompletedSync {
        let snapshot = ProxySnapshot(node: NodeInfo(name: "n"), servicePorts: [service.name: service],
                                     endpoints: [service.name: [Endpoint(address: IPAddress("10.1.0.1")!, port: 8080, isLocal: true, nodeName: "n")]],
                                     generation: 1)
        return CompletedSync(previous: nil, snapshot: snapshot, diff: SnapshotDiff(), full: true)
    }

    @Test func addressesFollowNodePortAddresses() {
        let node = ["10.0.0.5", "192.168.1.5", "fd00::5", "127.0.0.1"].map { IPAddress($0)! }
        #expect(HealthCheckAddresses.hosts(nodePortAddresses: [], nodeAddresses: node) == nil)
        #expect(HealthCheckAddresses.hosts(nodePortAddresses: [CIDR("0.0.0.0/0")!], nodeAddresses: node) == nil)
        #expect(HealthCheckAddresses.hosts(nodePortAddresses: [CIDR("10.0.0.0/8")!, CIDR("fd00::/64")!], nodeAddresses: node)
                == [IPAddress("10.0.0.5")!, IPAddress("fd00::5")!])
        // Per family, as NodePorts: no IPv6 prefix given means every IPv6 node address.
        #expect(HealthCheckAddresses.hosts(nodePortAddresses: [CIDR("172.16.0.0/12")!], nodeAddresses: node) == [IPAddress("fd00::5")!])
    }

    /// A LoadBalancer Service whose NodePorts are not allocated and whose ingress IP is not assigned
    /// yet still has its health check node port (the load balancer probes it to decide).
    @Test func everyLocalLoadBalancerWithAHealthCheckPortGetsOne() {
        let pending = loadBalancer(healthCheckNodePort: 32001, nodePort: 0, ingress: [])
        #expect(!pending.isExternallyAccessible)
        #expect(ServiceHealthServers.entries(for: sync(pending).snapshot).keys.sorted() == [32001])
        #expect(ServiceHealthServers.entries(for: sync(loadBalancer(healthCheckNodePort: 0)).snapshot).isEmpty)
    }

    /// With `nodePortAddresses` naming one node address, the port answers there and nowhere else.
    @Test func listensOnlyOnTheSelectedNodeAddress() async throws {
        let port = Int(try freePort())
        let servers = ServiceHealthServers(nodePortAddresses: [CIDR("127.0.0.2/32")!],
                                           nodeAddresses: { [IPAddress("127.0.0.1")!, IPAddress("127.0.0.2")!] },
                                           proxyHealthy: { true }, logger: Logger(label: "test"))
        await servers.synced(sync(loadBalancer(healthCheckNodePort: port)))
        #expect(servers.ports == [port])
        #expect(try await httpGet("http://127.0.0.2:\(port)/").status == 200)
        // Loopback's 127.0.0.1 is a node address too, outside nodePortAddresses: nothing listens there.
        await #expect(throws: (any Error).self) { _ = try await httpGet("http://127.0.0.1:\(port)/") }
        await servers.closeAll()
    }

    /// Unset, the port answers on every address (here two loopback addresses).
    @Test func listensEverywhereWhenUnset() async throws {
        let port = Int(try freePort())
        let servers = ServiceHealthServers(nodeAddresses: { [IPAddress("127.0.0.1")!] }, proxyHealthy: { true }, logger: Logger(label: "test"))
        await servers.synced(sync(loadBalancer(healthCheckNodePort: port, nodePort: 0, ingress: [])))
        #expect(try await httpGet("http://127.0.0.1:\(port)/").status == 200)
        #expect(try await httpGet("http://127.0.0.2:\(port)/").status == 200)
        await servers.closeAll()
    }
}
