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
        #expect(NodeFamilies.detect(ipv6Probe: probe) == [.ipv4, .ipv6])
    }
}
