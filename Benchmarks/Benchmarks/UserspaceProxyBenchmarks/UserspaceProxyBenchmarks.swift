import Benchmark
import Glibc
import Logging
@_spi(Benchmarks) import UserspaceProxy

// The proxy's hot paths: picking an endpoint, moving bulk bytes, and the per-connection cost.

private func endpoints(_ count: Int) -> [ProxyAddress] {
    (0..<count).map { ProxyAddress(ip: IPAddress("10.1.0.\($0 + 1)")!, port: 8080) }
}

/// One proxy with one loop, forwarding to a sink and to a backend that closes at once.
final class RelayFixture: Sendable {
    let proxy: UserspaceProxy
    let bulkPort: UInt16
    let connectPort: UInt16

    init() {
        var tuning = ProxyTuning()
        tuning.eventLoops = 1
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        proxy = try! UserspaceProxy(tuning: tuning, logger: logger)
        let sink = LoopbackBackend(.sink)
        let closer = LoopbackBackend(.closeAtOnce)
        bulkPort = Loopback.unusedPort()
        connectPort = Loopback.unusedPort()
        let local = { (port: UInt16) in try! ProxyAddress(host: "127.0.0.1", port: port) }
        let failures = proxy.apply([
            ForwardingRule(name: "bench/bulk", protocol: .tcp, listenAddresses: [local(bulkPort)], backends: [local(sink.port)]),
            ForwardingRule(name: "bench/connect", protocol: .tcp, listenAddresses: [local(connectPort)], backends: [local(closer.port)]),
        ])
        precondition(failures.isEmpty, "\(failures)")
    }
}

// Built on first use, shared by the relay benchmarks; written once, read-only after (hence unsafe).
let relayFixture = RelayFixture()
nonisolated(unsafe) let payload: UnsafeMutableRawBufferPointer = {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 20, alignment: 4096)
    for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: i &* 31) }
    return buffer
}()
nonisolated(unsafe) let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)

let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [.wallClock, .cpuTotal, .throughput, .mallocCountTotal]

    Benchmark("Endpoint pick: round-robin over 10", configuration: .init(metrics: metrics, scalingFactor: .kilo)) { benchmark in
        let rule = LiveRule(name: "bench/rr", protocol: .tcp)
        rule.update(backends: endpoints(10), affinityTimeout: nil)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(rule.choose(client: nil))
        }
    }

    Benchmark("Endpoint pick: ClientIP affinity, 1000 clients", configuration: .init(metrics: metrics, scalingFactor: .kilo)) { benchmark in
        let rule = LiveRule(name: "bench/affinity", protocol: .tcp)
        rule.update(backends: endpoints(10), affinityTimeout: .seconds(10800))
        let clients = (0..<1000).map { IPAddress("192.168.\($0 / 250).\($0 % 250 + 1)")! }
        for client in clients { _ = rule.choose(client: client) }
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            blackHole(rule.choose(client: clients[i % clients.count]))
        }
    }

    Benchmark(
        "Relay 64 MiB client to backend (loopback, splice)",
        configuration: .init(metrics: metrics, maxDuration: .seconds(10), maxIterations: 30)
    ) { benchmark in
        let fixture = relayFixture
        let fd = Loopback.connect(port: fixture.bulkPort)
        Loopback.sendAll(fd, UnsafeRawBufferPointer(payload))
        shutdown(fd, Int32(SHUT_WR))
        _ = Loopback.drain(fd, into: scratch) // the sink closes after our FIN has come through
        close(fd)
    }

    Benchmark(
        "Accept + dial + close of one connection",
        configuration: .init(metrics: metrics, maxDuration: .seconds(5), maxIterations: 5000)
    ) { benchmark in
        let fixture = relayFixture
        let fd = Loopback.connect(port: fixture.connectPort)
        _ = Loopback.drain(fd, into: scratch)
        close(fd)
    }
}
