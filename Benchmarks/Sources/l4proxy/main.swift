import Glibc
import Logging
import UserspaceProxy

// l4proxy LISTEN_PORT host:port[,host:port…]
// Forwards 127.0.0.1:LISTEN_PORT to the backends round-robin until SIGTERM/SIGINT.
func fail(_ message: String) -> Never {
    let line = message + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(1)
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let port = UInt16(arguments[1]) else {
    fail("usage: l4proxy LISTEN_PORT host:port[,host:port...]")
}
let backends: [ProxyAddress]
do {
    backends = try arguments[2].split(separator: ",").map { try ProxyAddress(String($0)) }
} catch {
    fail("l4proxy: \(error)")
}

// Block the stop signals before the loop threads exist, so they inherit the mask and only
// sigwait below sees them.
var stopSignals = sigset_t()
sigemptyset(&stopSignals)
sigaddset(&stopSignals, SIGTERM)
sigaddset(&stopSignals, SIGINT)
pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

var logger = Logger(label: "l4proxy")
logger.logLevel = .warning
var tuning = ProxyTuning()
// Knobs for experiments; the comparison runs with the defaults.
func setting(_ name: String) -> Int? { getenv(name).flatMap { Int(String(cString: $0)) } }
if let loops = setting("L4PROXY_EVENT_LOOPS") { tuning.eventLoops = loops }
if let slice = setting("L4PROXY_SLICE_US") { tuning.schedulerSlice = slice > 0 ? .microseconds(slice) : nil }
if let splice = setting("L4PROXY_SPLICE") { tuning.useSplice = splice != 0 }
let proxy = try UserspaceProxy(tuning: tuning, logger: logger)
let rule = ForwardingRule(
    name: "l4bench",
    protocol: .tcp,
    listenAddresses: [try ProxyAddress(host: "127.0.0.1", port: port)],
    backends: backends
)
let failures = proxy.apply([rule])
guard failures.isEmpty else {
    fail("l4proxy: \(failures)")
}

var received: Int32 = 0
sigwait(&stopSignals, &received)
await proxy.shutdown(gracePeriod: .seconds(1))
