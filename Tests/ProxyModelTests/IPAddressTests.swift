import ProxyModel
import Testing

@Suite struct IPAddressTests {
    @Test func parsesAndPrintsIPv4() throws {
        let ip = try #require(IPAddress("10.180.0.1"))
        #expect(ip.isIPv4)
        #expect(ip.description == "10.180.0.1")
        #expect(ip.bytes == [10, 180, 0, 1])
    }

    @Test func parsesAndPrintsIPv6InCanonicalForm() throws {
        let ip = try #require(IPAddress("fd00:0:0::0001"))
        #expect(!ip.isIPv4)
        #expect(ip.description == "fd00::1")
        #expect(IPAddress("[::1]")?.isLoopback == true)
        #expect(IPAddress("2001:db8:1:2:3:4:5:6")?.bytes == [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6])
    }

    /// A snapshot holds a million endpoints at 100,000 Services: the flags sit in the address's padding.
    @Test func anEndpointPacksItsFlagsBesideTheAddress() {
        #expect(MemoryLayout<IPAddress>.size == 17)
        #expect(MemoryLayout<Endpoint>.stride <= 80)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "a.b.c.d", "1.2.3.4 ", "::g", "1::2::3"])
    func rejectsWhatIsNotAnAddress(_ text: String) {
        #expect(IPAddress(text) == nil)
    }

    /// kube-proxy reads API addresses with ParseIPSloppy: leading zeros are decimal, not octal.
    @Test func sloppyAcceptsLeadingZerosAsDecimal() throws {
        #expect(IPAddress("172.30.0.041") == nil)
        #expect(IPAddress(sloppy: "172.30.0.041") == IPAddress("172.30.0.41"))
        #expect(IPAddress(sloppy: "010.000.0.0001") == IPAddress("10.0.0.1"))
        #expect(IPAddress(sloppy: "1.2.3.0256") == nil)
        #expect(IPAddress(sloppy: "1.2.3") == nil)
        #expect(IPAddress(sloppy: "fd00::1") == IPAddress("fd00::1"))
        #expect(CIDR(sloppy: "010.0.0.0/8") == CIDR("10.0.0.0/8"))
        #expect(CIDR("010.0.0.0/8") == nil)
    }

    @Test func mappedIPv4BecomesIPv4() throws {
        #expect(IPAddress("::ffff:192.168.1.2") == IPAddress("192.168.1.2"))
    }

    @Test func cidrContainsOnlyItsOwnFamilyAndRange() throws {
        let v4 = try #require(CIDR("10.0.0.0/8"))
        #expect(v4.contains(IPAddress("10.200.3.4")!))
        #expect(!v4.contains(IPAddress("11.0.0.1")!))
        #expect(!v4.contains(IPAddress("::a00:1")!))
        let v6 = try #require(CIDR("fd00:1::/32"))
        #expect(v6.contains(IPAddress("fd00:1:ffff::5")!))
        #expect(!v6.contains(IPAddress("fd00:2::5")!))
        #expect(CIDR("127.0.0.1")?.prefixLength == 32)
        #expect(CIDR("10.1.2.3/8")?.description == "10.0.0.0/8")
        #expect(CIDR("10.0.0.0/33") == nil)
        #expect(CIDR("0.0.0.0/0")?.contains(IPAddress("8.8.8.8")!) == true)
    }
}
