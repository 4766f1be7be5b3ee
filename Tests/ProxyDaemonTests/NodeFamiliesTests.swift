import Foundation
@testable import ProxyDaemon
import Testing

@Suite struct NodeFamiliesTests {
    @Test func aKernelWithoutIPv6GetsIPv4Only() throws {
        #expect(NodeFamilies.detect(ipv6Probe: "/nonexistent/if_inet6") == [.ipv4])
    }

    @Test func aKernelWithIPv6GetsBoth() throws {
        let probe = FileManager.default.temporaryDirectory.appendingPathComponent("if_inet6-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: probe, contents: Data()))
        defer { try? FileManager.default.removeItem(atPath: probe) }
        #expect(NodeFamilies.detect(ipv6Probe: probe, disabledSetting: "/nonexistent") == [.ipv4, .ipv6])
        let setting = probe + "-disable"
        try "1\n".write(toFile: setting, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: setting) }
        #expect(NodeFamilies.detect(ipv6Probe: probe, disabledSetting: setting) == [.ipv4])
    }
}
