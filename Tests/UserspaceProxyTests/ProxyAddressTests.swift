import Testing
@_spi(Benchmarks) @testable import UserspaceProxy

@Suite struct ProxyAddressTests {
    @Test func parsesIPv4AndIPv6Hosts() throws {
        let v4 = try ProxyAddress(host: "127.0.0.1", port: 80)
        #expect(v4.ip == .v4(0x0100_007F)) // network byte order in memory
        #expect(v4.description == "127.0.0.1:80")
        let v6 = try ProxyAddress(host: "::1", port: 8080)
        #expect(v6.ip.isIPv6)
        #expect(v6.description == "[::1]:8080")
        #expect(try ProxyAddress(host: "[fd00::1]", port: 1).ip == IPAddress("fd00::1"))
    }

    @Test func parsesHostPortText() throws {
        #expect(try ProxyAddress("10.0.0.7:30080") == ProxyAddress(host: "10.0.0.7", port: 30080))
        #expect(try ProxyAddress("[::1]:53") == ProxyAddress(host: "::1", port: 53))
    }

    @Test(arguments: ["localhost", "1.2.3", "256.1.1.1", "", "::1::2", "10.0.0.1:80"])
    func rejectsWhatIsNotANumericAddress(_ text: String) {
        #expect(throws: AddressError.self) { try ProxyAddress(host: text, port: 1) }
    }

    @Test(arguments: ["10.0.0.1", "::1:80", "10.0.0.1:99999", "[::1]", "a:1"])
    func rejectsBadHostPortText(_ text: String) {
        #expect(throws: AddressError.self) { try ProxyAddress(text) }
    }

    @Test func presentationRoundTrips() {
        for text in ["0.0.0.0", "192.168.10.254", "::", "fe80::1:2", "2001:db8::ff00:42:8329"] {
            #expect(IPAddress(text)?.description == text)
        }
    }
}
