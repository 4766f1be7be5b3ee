import ProxyModel
import RuleSync

/// Target 5: a ProxySnapshot built from the bytes (names with any characters, ports, addresses
/// of both families, endpoints in every state, policies, affinity, rule-sync settings), rendered
/// by both rule backends. Values stay within what the sources let into the model (ports 1-65535,
/// masquerade bit 0-31), everything else is arbitrary.
enum RenderTarget {
    static func run(_ bytes: [UInt8]) {
        var r = ByteReader(bytes)
        let config = RuleSyncConfig(
            clusterCIDRs: r.array(max: 3) { $0.cidr() },
            masqueradeAll: r.bool(),
            nodePortAddresses: r.array(max: 3) { $0.cidr() },
            masqueradeBit: r.int(0...31),
            endpointPick: r.bool() ? .roundRobin : .random)
        let node = NodeInfo(name: r.string(), addresses: r.array(max: 3) { $0.address() },
                            labels: r.bool() ? [NodeInfo.zoneLabel: r.string()] : [:])
        var services: [ServicePortName: ServicePort] = [:]
        var endpoints: [ServicePortName: [Endpoint]] = [:]
        for _ in 0..<r.int(0...6) {
            let name = ServicePortName(
                service: NamespacedName(namespace: r.string(), name: r.string()),
                port: r.string(), protocol: r.pick(TransportProtocol.allCases))
            let nodePort = r.bool() ? r.port() : 0
            services[name] = ServicePort(
                name: name, clusterIPs: r.array(max: 2) { $0.address() }, port: r.port(),
                targetPort: r.bool() ? .number(r.port()) : .name(r.string()),
                nodePort: nodePort,
                externalIPs: r.array(max: 3) { $0.address() },
                loadBalancerIPs: r.array(max: 3) { $0.address() },
                loadBalancerSourceRanges: r.array(max: 3) { $0.cidr() },
                sessionAffinity: r.bool() ? .clientIP(timeoutSeconds: r.int(1...86_400)) : .none,
                externalTrafficPolicy: r.bool() ? .local : .cluster,
                internalTrafficPolicy: r.bool() ? .local : .cluster,
                healthCheckNodePort: r.bool() ? r.port() : 0,
                trafficDistribution: r.bool() ? r.pick(["PreferClose", "PreferSameZone", "PreferSameNode", r.string()]) : nil)
            endpoints[name] = r.array(max: 8) { r in
                Endpoint(address: r.address(), port: r.port(), isReady: r.bool(), isServing: r.bool(),
                         isTerminating: r.bool(), isLocal: r.bool(), nodeName: r.bool() ? r.string() : nil,
                         zone: r.bool() ? r.string() : nil,
                         zoneHints: Set(r.array(max: 2) { $0.string() }), nodeHints: Set(r.array(max: 2) { $0.string() }))
            }
        }
        Render.all(ProxySnapshot(node: node, servicePorts: services, endpoints: endpoints), config: config)
    }
}

/// Reads typed values off the fuzz bytes; past the end every read is zero.
struct ByteReader {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func byte() -> UInt8 {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func bool() -> Bool { byte() & 1 == 1 }

    mutating func uint16() -> Int { Int(byte()) << 8 | Int(byte()) }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        let raw = Int(byte()) << 24 | Int(byte()) << 16 | Int(byte()) << 8 | Int(byte())
        return range.lowerBound + raw % (range.upperBound - range.lowerBound + 1)
    }

    mutating func port() -> Int { max(1, uint16()) }

    mutating func pick<T>(_ choices: [T]) -> T { choices[Int(byte()) % choices.count] }

    mutating func array<T>(max: Int, _ element: (inout ByteReader) -> T) -> [T] {
        (0..<Int(byte()) % (max + 1)).map { _ in element(&self) }
    }

    /// A length byte then that many bytes as UTF-8 (invalid sequences become U+FFFD), so names can
    /// hold quotes, newlines, NULs, spaces and any script.
    mutating func string() -> String {
        let length = Int(byte()) % 48
        let end = min(bytes.count, index + length)
        defer { index = end }
        return index < end ? String(decoding: bytes[index..<end], as: UTF8.self) : ""
    }

    mutating func address() -> IPAddress {
        if bool() {
            return IPAddress(ipv4: UInt32(byte()) << 24 | UInt32(byte()) << 16 | UInt32(byte()) << 8 | UInt32(byte()))
        }
        return IPAddress(ipv6Bytes: (0..<16).map { _ in byte() })
    }

    mutating func cidr() -> CIDR {
        let address = address()
        return CIDR(address: address, prefixLength: int(0...(address.isIPv4 ? 32 : 128)))
    }
}
