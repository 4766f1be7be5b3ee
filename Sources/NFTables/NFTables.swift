// The NFTables module: a typed model of nftables and its encoding into one atomic netlink batch.
//
// It knows nothing about Kubernetes; RuleSync renders Services into these types.
//
// # Model
//
// - `NFTTable(family: .ip, name: "swift-kube-proxy")` — `NFTFamily` is `.ip`, `.ip6` or `.inet`.
// - `NFTChain.regular("services", in: table)` and
//   `NFTChain.base("nat-prerouting", in: table, type: .nat, hook: .prerouting, priority: NFTPriority.dstnat, policy: .accept)`.
// - `NFTSet.set("cluster-ips", in: table, key: .ipv4Addr)`,
//   `NFTSet.set("affinity-x", in: table, key: .ipv4Addr, flags: [.dynamic, .timeout], timeout: .seconds(10800))`,
//   `NFTSet.map("service-ips", in: table, key: .concat(.ipv4Addr, .inetProto, .inetService), to: .verdict)`
//   (`NFTMap` is the same type). Key types (`NFTDataType`) carry nft's type numbers, so
//   `nft list` prints `type ipv4_addr . inet_proto . inet_service : verdict`.
// - `NFTSetElement.verdict(.concat(NFTValue(ipv4: "172.30.0.41")!, .proto(.tcp), .port(80)), .goto("service-x"), comment: "ns/web:http")`,
//   `NFTSetElement(key:, value:, timeout:, comment:)`, `.prefix(NFTPrefix("10.0.0.0/8")!)`, `.range(first, last)`.
// - `NFTRule(in: chain, [statements], comment: "ns/name:port")`, where statements (`NFTStatement`) read
//   like nft and expand into the expressions nft itself emits (checked against nft in the tests):
//
//   | nft                                                   | NFTStatement                                                       |
//   |-------------------------------------------------------|--------------------------------------------------------------------|
//   | `ip daddr 10.0.0.1` / `th dport != 22`                | `.match(.ipDaddr, NFTValue(ipv4: "10.0.0.1")!)`, `.match(.thDport, .neq, .port(22))` |
//   | `ip saddr != 10.0.0.0/8`                              | `.match(.ipSaddr, negated: true, prefix: NFTPrefix("10.0.0.0/8")!)` |
//   | `meta l4proto tcp`, `iifname "eth0"`                  | `.match(.l4proto, .proto(.tcp))`, `.match(.iifname, .ifname("eth0"))` |
//   | `ip daddr . meta l4proto . th dport vmap @service-ips`| `.lookup([.ipDaddr, .l4proto, .thDport], vmap: "service-ips")`    |
//   | `ip saddr != @set`                                    | `.lookup([.ipSaddr], set: "set", negated: true)`                    |
//   | `ip saddr != { 203.0.113.0/25, ... }`                 | `.match(.ipSaddr, negated: true, anyOf: [NFTPrefix("203.0.113.0/25")!])` |
//   | `ct state new`                                        | `.ctState(.new)`                                                    |
//   | `fib daddr type local`                                | `.fibDaddrTypeLocal()`                                              |
//   | `meta mark & 0x4000 == 0` / `meta mark set meta mark \| 0x4000` | `.mark(hasBits: 0x4000, isSet: false)` / `.setMark(orBits: 0x4000)` |
//   | `numgen random mod 2 vmap { 0 : goto a, 1 : goto b }` | `.numgen(.random, vmap: [.goto("a"), .goto("b")])`                 |
//   | `update @aff { ip saddr timeout 3h }`                 | `.dynset(.update, set: "aff", key: [.ipSaddr], timeout: .seconds(10800))` |
//   | `dnat to 10.1.0.5:8080` / `snat to ...`               | `.dnat(to: NFTValue(ipv4: "10.1.0.5")!, port: 8080)`               |
//   | `dnat ip to numgen inc mod 3 offset 8 map @eps`       | `.dnat(numgen: .inc, modulus: 3, offset: 8, map: "eps", family: .ip)` over `NFTSet.addressPortMap("eps", in: table)` (`typeof numgen inc mod 1 : ip daddr . th dport`) |
//   | `masquerade fully-random`                             | `.masquerade(fullyRandom: true)`                                    |
//   | `redirect to :8080` / `redirect to :ip daddr . meta l4proto . th dport map @m` | `.redirect(toPort: 8080)` / `.redirect(toPortFrom: [.ipDaddr, .l4proto, .thDport], map: "m")` |
//   | `reject with tcp reset` / `reject`                    | `.reject(.tcpReset)` / `.reject()` (icmp port-unreachable)          |
//   | `counter`, `limit rate 10/second`                     | `.counter`, `.limit(packetsPerSecond: 10)`                          |
//   | `accept`, `drop`, `return`, `jump c`, `goto c`        | `.accept`, `.drop`, `.return`, `.jump("c")`, `.goto("c")`           |
//
//   Anything else can be written as raw kernel expressions: `.expressions([NFTExpression], description:)`.
//
// # Applying
//
// `NFTBatch` is an ordered list of `NFTCommand`s (add/delete/flush table, chain, set; add rule;
// add/delete elements). `NFTConnection().apply(batch)` — or `NFTConnection(networkNamespace:
// "/run/netns/NAME")` — sends it as one nfnetlink transaction: all of it applies or none does.
// Every message asks for an acknowledgement; if the kernel refuses any, `apply` throws
// `NFTError.commandFailed(index:command:errno:)` naming the first refused command in nft syntax.
//
// `connection.contents(of: table)` returns the chain and set names in that one table (nil if it
// does not exist); `connection.deleteTableIfPresent(table)` removes our table and nothing else.
//
// Unsafe C interop lives in `NetlinkBatchEncoder.swift` (libnftnl objects, mnl batch), `NetlinkElementEncoder.swift` (set elements),
// `NetlinkExpressionEncoder.swift` (rule expressions) and `Netlink.swift` (socket, namespaces,
// replies); everything else is plain value types.
