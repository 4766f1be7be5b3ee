import ProxyModel
@testable import RuleSync

/// A packet tracer over rendered iptables rules, in the style of kube-proxy's proxier_test.go: it
/// walks a packet through the hooks and our chains as the kernel would for the first packet of a
/// connection, following every branch a `statistic` match may take, and says where it ends.
struct IPTablesTracer {
    struct Packet: Hashable {
        var source: IPAddress
        var destination: IPAddress
        var proto: String
        var port: Int
        var mark: UInt32 = 0
    }

    enum Verdict: Hashable { case accept, drop, reject }

    /// Where one possible path of the packet ends.
    struct Outcome: Hashable, CustomStringConvertible {
        var verdict: Verdict
        /// `ip:port` the packet was DNATed to, if any.
        var dnat: String?
        var masqueraded: Bool

        var description: String {
            "\(verdict)\(dnat.map { " DNAT \($0)" } ?? "")\(masqueraded ? " MASQUERADE" : "")"
        }
    }

    struct Rule {
        var negated: Set<String> = []
        var source: CIDR?
        var destination: CIDR?
        var proto: String?
        var dport: Int?
        var dstLocal = false
        var srcLocal = false
        var statistic = false
        var recentCheck = false
        var mark: (value: UInt32, mask: UInt32)?
        var ctstates: [String] = []
        var target = ""
        var toDestination: String?
        var orMark: UInt32?
        var xorMark: UInt32?
    }

    enum Step {
        case fellOff
        case terminal(Verdict)
        case dnat(String)
        case masquerade
    }

    var chains: [String: [Rule]] = [:]   // "table/chain"
    var localAddresses: Set<IPAddress>

    init(restoreInput: String, localAddresses: Set<IPAddress>) {
        self.localAddresses = localAddresses
        var table = ""
        for hook in IPTablesHook.all {
            chains["\(hook.table.rawValue)/\(hook.chain)", default: []].append(IPTablesTracer.parse(hook.rule))
        }
        for line in restoreInput.split(separator: "\n") {
            if line.hasPrefix("*") { table = String(line.dropFirst()); continue }
            let words = IPTablesTracer.tokenize(String(line))
            guard words.count >= 2, words[0] == "-A" else { continue }
            chains["\(table)/\(words[1])", default: []].append(IPTablesTracer.parse(words.dropFirst(2)))
        }
    }

    /// As `iptables-restore` splits a line (quotes and their escapes included).
    static func tokenize(_ line: String) -> [String] { IPTablesRuleValidation.arguments(line) ?? [] }

    static func parse(_ text: String) -> Rule { parse(tokenize(text)[...]) }

    static func parse(_ words: ArraySlice<String>) -> Rule {
        var r = Rule()
        var w = Array(words)
        var i = 0
        var negateNext = false
        func next() -> String { i += 1; return i < w.count ? w[i] : "" }
        while i < w.count {
            let word = w[i]
            switch word {
            case "!": negateNext = true; i += 1; continue
            case "-s": r.source = CIDR(next()); if negateNext { r.negated.insert("s") }
            case "-d": r.destination = CIDR(next()); if negateNext { r.negated.insert("d") }
            case "-p": r.proto = next()
            case "--dport": r.dport = Int(next())
            case "--dst-type": r.dstLocal = next() == "LOCAL"
            case "--src-type": r.srcLocal = next() == "LOCAL"
            case "--mode": r.statistic = true; _ = next()
            case "--rcheck": r.recentCheck = true
            case "--mark":
                let parts = next().split(separator: "/")
                r.mark = (UInt32(parts[0].dropFirst(2), radix: 16)!, UInt32(parts[1].dropFirst(2), radix: 16)!)
                if negateNext { r.negated.insert("mark") }
            case "--ctstate": r.ctstates = next().split(separator: ",").map(String.init)
            case "-j": r.target = next()
            case "--to-destination": r.toDestination = next()
            case "--or-mark": r.orMark = UInt32(next().dropFirst(2), radix: 16)
            case "--xor-mark": r.xorMark = UInt32(next().dropFirst(2), radix: 16)
            default: break
            }
            negateNext = false
            i += 1
        }
        w.removeAll()
        return r
    }

    func matches(_ r: Rule, _ p: Packet) -> Bool {
        if let s = r.source, s.contains(p.source) == r.negated.contains("s") { return false }
        if let d = r.destination, d.contains(p.destination) == r.negated.contains("d") { return false }
        if let proto = r.proto, proto != p.proto { return false }
        if let port = r.dport, port != p.port { return false }
        if r.dstLocal && !localAddresses.contains(p.destination) { return false }
        if r.srcLocal && !localAddresses.contains(p.source) { return false }
        if r.recentCheck { return false }  // no affinity memory: a first connection
        if let m = r.mark, (p.mark & m.mask == m.value) == r.negated.contains("mark") { return false }
        if !r.ctstates.isEmpty && !r.ctstates.contains("NEW") { return false }
        return true
    }

    /// Every way `chain` of `table` may end for packet `p`.
    func run(_ table: String, _ chain: String, _ p: Packet, depth: Int = 0) -> [(Packet, Step)] {
        precondition(depth < 20, "jump loop at \(chain)")
        let rules = chains["\(table)/\(chain)"] ?? []
        var results: [(Packet, Step)] = []
        func step(_ index: Int, _ p: Packet) {
            guard index < rules.count else { results.append((p, .fellOff)); return }
            let r = rules[index]
            guard matches(r, p) else { step(index + 1, p); return }
            if r.statistic { step(index + 1, p) }   // the branch where this rule was not picked
            switch r.target {
            case "RETURN": results.append((p, .fellOff))
            case "ACCEPT": results.append((p, .terminal(.accept)))
            case "DROP": results.append((p, .terminal(.drop)))
            case "REJECT": results.append((p, .terminal(.reject)))
            case "MASQUERADE": results.append((p, .masquerade))
            case "DNAT":
                var q = p
                let dest = r.toDestination!
                let host = dest.hasPrefix("[") ? String(dest.dropFirst().prefix { $0 != "]" }) : String(dest.prefix { $0 != ":" })
                q.destination = IPAddress(host)!
                q.port = Int(dest.split(separator: ":").last!)!
                results.append((q, .dnat(dest)))
            case "MARK":
                var q = p
                if let o = r.orMark { q.mark |= o }
                if let x = r.xorMark { q.mark ^= x }
                step(index + 1, q)
            default:
                for (q, s) in run(table, r.target, p, depth: depth + 1) {
                    if case .fellOff = s { step(index + 1, q) } else { results.append((q, s)) }
                }
            }
        }
        step(0, p)
        return results
    }

    /// Runs a standard chain; falling off its end is its ACCEPT policy.
    func hook(_ table: String, _ chain: String, _ p: Packet) -> [(Packet, Step)] { run(table, chain, p) }

    /// Traces the first packet of a connection from `source` (the node itself when `source` is local).
    func trace(from source: String, to destination: String, port: Int, proto: String = "tcp") -> Set<Outcome> {
        let p = Packet(source: IPAddress(source)!, destination: IPAddress(destination)!, proto: proto, port: port)
        let fromNode = localAddresses.contains(p.source)
        var outcomes = Set<Outcome>()
        for (p1, s1) in hook("nat", fromNode ? "OUTPUT" : "PREROUTING", p) {
            var dnat: String?
            if case .dnat(let d) = s1 { dnat = d }
            if case .terminal(let v) = s1 { outcomes.insert(Outcome(verdict: v, dnat: nil, masqueraded: false)); continue }
            let filterChains: [String] = fromNode ? ["OUTPUT"] : (localAddresses.contains(p1.destination) ? ["INPUT"] : ["FORWARD"])
            var verdict = Verdict.accept
            var packet = p1
            filter: for chain in filterChains {
                for (p2, s2) in hook("filter", chain, packet) {
                    packet = p2
                    if case .terminal(let v) = s2 { verdict = v; break filter }
                }
            }
            var masq = false
            if verdict == .accept && !localAddresses.contains(packet.destination) || fromNode && verdict == .accept {
                for (_, s3) in hook("nat", "POSTROUTING", packet) { if case .masquerade = s3 { masq = true } }
            }
            outcomes.insert(Outcome(verdict: verdict, dnat: dnat, masqueraded: masq))
        }
        return outcomes
    }
}
