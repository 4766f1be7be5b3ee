import Conntrack
import Glibc
import ProxyModel
import Testing

/// Real kernel: a UDP "Service" DNATed by nftables inside a namespace of the test's own, whose
/// endpoint is replaced. The stale conntrack entry keeps the client on the old endpoint until we
/// delete it; then the next datagram reaches the new one.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct ConntrackNamespaceTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var family: String
        var client, serviceIP, oldEndpoint, newEndpoint, serviceRange: String
        var filterByServiceAddress: Bool
        var testDescription: String { "\(family), deleting by \(filterByServiceAddress ? "Service address" : "NATed endpoint")" }
    }

    static let cases = [
        Case(family: "ip", client: "192.0.2.20", serviceIP: "198.51.100.1", oldEndpoint: "192.0.2.10", newEndpoint: "192.0.2.11",
             serviceRange: "198.51.100.0/24", filterByServiceAddress: false),
        Case(family: "ip6", client: "2001:db8::20", serviceIP: "2001:db8:1::1", oldEndpoint: "2001:db8::10", newEndpoint: "2001:db8::11",
             serviceRange: "2001:db8:1::/64", filterByServiceAddress: true),
    ]

    @Test(arguments: cases)
    func aUDPFlowMovesToTheNewEndpointOnceItsEntryIsDeleted(_ c: Case) throws {
        let ns = try TestNamespace(prefix: "skp-ct")
        defer { ns.remove() }
        try ns.ip("link", "set", "lo", "up")
        // A veth pair inside the namespace carries the addresses (and the route to the Service range).
        try ns.ip("link", "add", "svc0", "type", "veth", "peer", "name", "svc1")
        try ns.ip("link", "set", "svc0", "up")
        try ns.ip("link", "set", "svc1", "up")
        for address in [c.client, c.oldEndpoint, c.newEndpoint] {
            if c.family == "ip6" {
                try ns.ip("-6", "addr", "add", address + "/128", "dev", "svc0", "nodad")
            } else {
                try ns.ip("addr", "add", address + "/32", "dev", "svc0")
            }
        }
        try ns.ip(c.family == "ip6" ? "-6" : "-4", "route", "add", c.serviceRange, "dev", "svc0")
        let bracket = { (a: String) in c.family == "ip6" ? "[\(a)]" : a }
        func dnat(to endpoint: String) -> String {
            """
            table \(c.family) skp_ct_test {
              chain output {
                type nat hook output priority -100; policy accept;
                \(c.family) daddr \(c.serviceIP) udp dport 53 dnat to \(bracket(endpoint)):5353
              }
            }
            """
        }
        try ns.nft(dnat(to: c.oldEndpoint))

        let old = try UDPSocket(namespace: ns.name, bind: c.oldEndpoint, port: 5353)
        let new = try UDPSocket(namespace: ns.name, bind: c.newEndpoint, port: 5353)
        let client = try UDPSocket(namespace: ns.name, bind: c.client, port: 40053)

        try client.send("first", to: c.serviceIP, port: 53)
        #expect(old.receive() == "first")

        let conntrack = try Conntrack(networkNamespace: ns.name)
        let serviceIP = IPAddress(c.serviceIP)!
        let flows = try conntrack.flows(family: serviceIP.family).filter { $0.original.destination == serviceIP }
        #expect(flows.count == 1)
        #expect(flows.first?.reply.source == IPAddress(c.oldEndpoint))
        #expect(flows.first?.reply.sourcePort == 5353)

        // The endpoint is replaced in the rules, but the entry still sends the flow to the old one.
        try ns.nft("flush table \(c.family) skp_ct_test\n" + dnat(to: c.newEndpoint))
        try client.send("second", to: c.serviceIP, port: 53)
        #expect(old.receive() == "second")

        let filter: ConntrackFilter = c.filterByServiceAddress
            ? .originalDestination(serviceIP, port: 53, .udp)
            : .natedTo(IPAddress(c.oldEndpoint)!, port: 5353, .udp)
        #expect(try conntrack.delete(matching: [filter]) == 1)

        try client.send("third", to: c.serviceIP, port: 53)
        #expect(new.receive() == "third")
        // Nothing else was touched: deleting again finds the new flow only if it matches.
        #expect(try conntrack.delete(matching: [.natedTo(IPAddress(c.oldEndpoint)!, port: 5353, .udp)]) == 0)
    }
}
