@testable import Conntrack
import ProxyModel
import Testing

@Suite struct ConntrackMessageTests {
    let client = ConntrackTuple(source: IPAddress("10.1.0.5")!, destination: IPAddress("172.30.0.10")!,
                                protocol: 17, sourcePort: 40000, destinationPort: 53)
    let reply = ConntrackTuple(source: IPAddress("10.180.0.7")!, destination: IPAddress("10.1.0.5")!,
                               protocol: 17, sourcePort: 5353, destinationPort: 40000)

    @Test func aDeleteRequestCarriesTheOriginalTupleTheKernelLooksUp() throws {
        let flow = ConntrackFlow(original: client, reply: reply, zone: 7)
        let message = CTNetlinkMessage.deleteRequest(flow, sequence: 42)
        #expect(Int(CTNetlinkMessage.host16(message[...], at: 0)) == message.count)
        #expect(CTNetlinkMessage.host16(message[...], at: 4) == 1 << 8 | 2)   // ctnetlink, IPCTNL_MSG_CT_DELETE
        #expect(message[16] == 2)                                             // AF_INET
        let attributes = CTNetlinkMessage.attributes(message[20...])
        #expect(attributes.map(\.0) == [1, 18])                               // CTA_TUPLE_ORIG, CTA_ZONE
        #expect(CTNetlinkMessage.decodeTuple(attributes[0].1) == client)
        #expect(Array(attributes[1].1) == [0, 7])
    }

    @Test func ipv6TuplesRoundTrip() throws {
        let v6 = ConntrackTuple(source: IPAddress("fd00::5")!, destination: IPAddress("fd00:30::10")!,
                                protocol: 132, sourcePort: 1234, destinationPort: 9999)
        let flow = ConntrackFlow(original: v6, reply: v6)
        let message = CTNetlinkMessage.deleteRequest(flow, sequence: 1)
        #expect(message[16] == 10)                                            // AF_INET6
        let attributes = CTNetlinkMessage.attributes(message[20...])
        #expect(attributes.count == 1)
        #expect(CTNetlinkMessage.decodeTuple(attributes[0].1) == v6)
    }

    @Test func aDumpRequestAsksForEveryEntryOfOneFamily() {
        let message = CTNetlinkMessage.dumpRequest(family: .ipv6, sequence: 9)
        #expect(message.count == 20)
        #expect(CTNetlinkMessage.host16(message[...], at: 4) == 1 << 8 | 1)   // IPCTNL_MSG_CT_GET
        #expect(CTNetlinkMessage.host16(message[...], at: 6) == 0x301)        // NLM_F_REQUEST | NLM_F_DUMP
        #expect(message[16] == 10)
    }

    @Test func filtersMatchAsKubeProxysCleanupDoes() {
        let natted = ConntrackFlow(original: client, reply: reply)
        #expect(ConntrackFilter.originalDestination(IPAddress("172.30.0.10")!, port: 53, .udp).matches(natted))
        #expect(!ConntrackFilter.originalDestination(IPAddress("172.30.0.10")!, port: 53, .sctp).matches(natted))
        #expect(!ConntrackFilter.originalDestination(IPAddress("172.30.0.10")!, port: 54, .udp).matches(natted))
        #expect(ConntrackFilter.natedTo(IPAddress("10.180.0.7")!, port: 5353, .udp).matches(natted))
        #expect(!ConntrackFilter.natedTo(IPAddress("10.180.0.7")!, port: 5354, .udp).matches(natted))
        // A client talking to the pod directly was not NATed: its flow is left alone.
        let direct = ConntrackFlow(
            original: ConntrackTuple(source: client.source, destination: reply.source, protocol: 17, sourcePort: 40000, destinationPort: 5353),
            reply: reply)
        #expect(!ConntrackFilter.natedTo(IPAddress("10.180.0.7")!, port: 5353, .udp).matches(direct))
    }
}
