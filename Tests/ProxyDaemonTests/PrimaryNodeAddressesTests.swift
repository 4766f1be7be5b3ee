@testable import ProxyDaemon
import ProxyModel
import Testing

/// The node's primary addresses without a Node object: the default route's interface's first address.
@Suite struct PrimaryNodeAddressesTests {
    typealias R = PrimaryNodeAddresses.DefaultRoute
    typealias A = LocalAddresses.Assigned

    // A VM with docker: the uplink eth0 holds the default route; docker0 and a VPN sort lower.
    static let routeFile = """
    Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
    wg0\t00000000\t00000000\t0001\t0\t0\t600\t00000000\t0\t0\t0
    eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
    eth0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
    docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
    """
    static let ipv6RouteFile = """
    fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
    00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000003 00000000 00000003     eth0
    00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
    """
    static let addresses = [
        A(interface: "lo", address: IPAddress("127.0.0.1")!),
        A(interface: "docker0", address: IPAddress("172.17.0.1")!),
        A(interface: "eth0", address: IPAddress("192.168.2.10")!),
        A(interface: "eth0", address: IPAddress("192.168.2.200")!),
        A(interface: "wg0", address: IPAddress("10.8.0.2")!),
        A(interface: "eth0", address: IPAddress("fd00::10")!),
        A(interface: "lo", address: IPAddress("::1")!),
    ]

    @Test func routeFilesYieldTheDefaultRoutesThatAreUp() {
        #expect(PrimaryNodeAddresses.parseIPv4Routes(Self.routeFile) == [
            R(family: .ipv4, interface: "wg0", metric: 600), R(family: .ipv4, interface: "eth0", metric: 100),
        ])
        // The rejecting ::/0 on lo (no default route) is not one.
        #expect(PrimaryNodeAddresses.parseIPv6Routes(Self.ipv6RouteFile) == [R(family: .ipv6, interface: "eth0", metric: 0x400)])
        #expect(PrimaryNodeAddresses.parseIPv4Routes("").isEmpty)
        #expect(PrimaryNodeAddresses.parseIPv6Routes("garbage line\n").isEmpty)
    }

    @Test func theLowestMetricDefaultRoutesInterfaceGivesItsFirstAddress() {
        let routes = PrimaryNodeAddresses.parseIPv4Routes(Self.routeFile) + PrimaryNodeAddresses.parseIPv6Routes(Self.ipv6RouteFile)
        #expect(PrimaryNodeAddresses.choose(routes: routes, addresses: Self.addresses)
            == [IPAddress("192.168.2.10")!, IPAddress("fd00::10")!])
    }

    @Test func aFamilyWithoutADefaultRouteOrAddressHasNoPrimary() {
        #expect(PrimaryNodeAddresses.choose(routes: [], addresses: Self.addresses).isEmpty)
        // The route's interface has no address of the family (an IPv6-only uplink, say).
        #expect(PrimaryNodeAddresses.choose(routes: [R(family: .ipv4, interface: "eth1", metric: 0)], addresses: Self.addresses).isEmpty)
        // A default route through lo never makes loopback primary.
        #expect(PrimaryNodeAddresses.choose(routes: [R(family: .ipv4, interface: "lo", metric: 0)], addresses: Self.addresses).isEmpty)
    }

    /// In this test's own namespace: whatever it answers is an address of a default route's interface.
    @Test func detectReadsThisNamespace() {
        let assigned = LocalAddresses.assigned()
        for ip in PrimaryNodeAddresses.detect() {
            #expect(assigned.contains { $0.address == ip })
            #expect(!ip.isLoopback)
        }
        #expect(Set(assigned.map(\.address)) == Set(LocalAddresses.current()))
    }
}
