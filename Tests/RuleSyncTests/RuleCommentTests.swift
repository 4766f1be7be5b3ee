import DataplaneScenarios
import NFTables
import ProxyModel
import Testing
@testable import RuleSync

/// Comments built from names at the API's limits, names from a file manifest (quotes, line breaks,
/// rule text) and non-ASCII at the cut: each backend gets text it takes, cut between characters.
@Suite struct RuleCommentTests {
    typealias F = Fixture
    let long = NameWorld.longName
    let hostile = NameWorld.hostileName

    // MARK: cutting

    @Test func aCutNeverSplitsACharacter() {
        let accented = String(repeating: "a", count: 126) + "ü"  // ü is 2 bytes: 128 in all
        #expect(accented.prefix(utf8Bytes: 127) == String(repeating: "a", count: 126))
        // One character of 8 scalars (woman, skin tone, ZWJ, laptop), 15 bytes.
        let emoji = String(repeating: "a", count: 120) + "👩🏽‍💻"
        #expect(emoji.prefix(utf8Bytes: 127) == String(repeating: "a", count: 120))
        #expect(emoji.prefix(utf8Bytes: 135) == emoji)
        let word = String(repeating: "ünïcødé", count: 20)
        for limit in 0...60 {
            let cut = word.prefix(utf8Bytes: limit)
            #expect(cut.utf8.count <= limit && word.hasPrefix(cut) && limit - cut.utf8.count < 2)
        }
    }

    // MARK: nftables

    @Test func nftablesCommentsFitAndStayInert() {
        let comment = RuleComment.nftables("pod traffic for \(long) external destinations")
        #expect(comment.utf8.count == RuleComment.nftablesMaxBytes)
        #expect(comment.hasPrefix("pod traffic for tenant-with-a-namespace"))
        let h = RuleComment.nftables(hostile.description)
        #expect(!h.contains("\"") && !h.contains("\n"))
        #expect(h.hasPrefix("ünïcødé-👩🏽‍💻-ßß"))
        #expect(RuleComment.nftables("ns1/web:http") == "ns1/web:http")
        #expect(RuleComment.nftables("a\u{85}b\u{7F}c\td") == "a b c d")
    }

    /// The batch that failed every sync ("comment longer than 127 bytes") now validates whole.
    @Test(arguments: [NameWorld.longName, NameWorld.hostileName])
    func aServiceWithALongOrHostileNameRendersAValidBatch(_ name: ServicePortName) throws {
        let transport = RecordingTransport()
        let backend = NFTablesBackend(config: F.config, families: [.ipv4], transport: transport)
        let other = F.name("ns1", "web")
        let snapshot = F.snapshot([
            (F.service(name, "172.30.0.41", nodePort: 30080, lbIPs: ["192.168.70.1"], sourceRanges: ["192.168.0.0/16"],
                       affinity: .clientIP(timeoutSeconds: 60), externalPolicy: .local),
             [F.endpoint("10.180.0.1", local: true), F.endpoint("10.180.1.1")]),
            (F.service(other, "172.30.0.42"), [F.endpoint("10.180.0.2")]),
        ])
        let report = try backend.sync(snapshot, changes: nil)
        #expect(report.skipped.isEmpty)
        let commands = try #require(transport.batches.last).commands
        for command in commands { #expect(command.validationFailure == nil, "\(command)") }
        let ruleset = try #require(backend.appliedRuleset(.ipv4))
        #expect(ruleset.services[name] != nil && ruleset.services[other] != nil)
        // With affinity flat, the name is in no rule: it is the comment of the Service's map elements.
        let comments = commands.flatMap { c -> [String] in if case .addElements(_, let e) = c { return e.compactMap(\.comment) }; return [] }
        #expect(comments.contains(RuleComment.nftables(name.description)))
    }

    // MARK: iptables

    @Test func iptablesCommentsAreOneQuotedArgument() throws {
        let text = "\(hostile) cluster IP"
        let argument = RuleComment.iptables(text)
        #expect(!argument.contains("\n"))
        let words = try #require(IPTablesRuleValidation.arguments("-m comment --comment \(argument) -j SKP-SVC-X"))
        #expect(words == ["-m", "comment", "--comment", text.replacingOccurrences(of: "\n", with: " "), "-j", "SKP-SVC-X"])
    }

    @Test func iptablesCommentsAreCutToXtCommentsLimitBetweenCharacters() throws {
        let text = String(repeating: "a", count: 250) + "👩🏽‍💻\"\\"
        let words = try #require(IPTablesRuleValidation.arguments("--comment " + RuleComment.iptables(text)))
        #expect(words[1] == String(repeating: "a", count: 250))
        let quotes = String(repeating: "\"", count: 300)
        let cut = try #require(IPTablesRuleValidation.arguments("--comment " + RuleComment.iptables(quotes)))
        #expect(cut == ["--comment", String(repeating: "\"", count: 255)])
    }

    /// Every line of the restore input is one of ours: the hostile name adds no rule and ends no line.
    @Test func aHostileNameAddsNoRuleToTheRestoreInput() throws {
        let ordinary = F.name("ns1", "web")
        let snapshot = F.snapshot([
            (F.service(hostile, "172.30.0.41", nodePort: 30080, externalPolicy: .local), [F.endpoint("10.180.0.1", local: true)]),
            (F.service(ordinary, "172.30.0.42", nodePort: 30081), []),
        ])
        let plain = F.snapshot([
            (F.service(F.name("ns2", "x"), "172.30.0.41", nodePort: 30080, externalPolicy: .local), [F.endpoint("10.180.0.1", local: true)]),
            (F.service(ordinary, "172.30.0.42", nodePort: 30081), []),
        ])
        let text = F.render(snapshot)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // The same Services under an ordinary name give as many lines, and each line parses.
        #expect(lines.count == F.render(plain).split(separator: "\n", omittingEmptySubsequences: false).count)
        #expect(!lines.contains { $0.hasPrefix("-A KUBE") || $0.hasPrefix("#") })
        for line in lines where line.hasPrefix("-A ") { #expect(IPTablesRuleValidation.problem(inRule: String(line)) == nil, "\(line)") }
        let comments = lines.compactMap { line -> String? in
            guard let words = IPTablesRuleValidation.arguments(String(line)), let i = words.firstIndex(of: "--comment") else { return nil }
            return words[i + 1]
        }
        #expect(comments.contains("\(hostile) node port".replacingOccurrences(of: "\n", with: " ")))
        // The tracer reads it as iptables-restore does: the NodePort still reaches its endpoint.
        let tracer = F.tracer(snapshot)
        #expect(tracer.trace(from: "203.0.113.9", to: "192.168.0.2", port: 30080) == .dnat("10.180.0.1:8080"))
    }

    @Test func theRuleValidationFindsWhatRestoreWouldRefuse() {
        typealias V = IPTablesRuleValidation
        #expect(V.problem(inRule: "-m comment --comment \"a\nb\" -j ACCEPT") == "control character in rule")
        #expect(V.problem(inRule: "-m comment --comment \"a -j ACCEPT") == "unterminated quote in rule")
        #expect(V.problem(inRule: "-m comment --comment \"\(String(repeating: "a", count: 256))\"") == "comment longer than 255 bytes")
        #expect(V.problem(inRule: "-m comment --comment \"\(String(repeating: "a", count: 255))\" -j SKP-X") == nil)
        #expect(V.problem(inRule: "-m comment --comment \"a\u{85}b\" -j ACCEPT") == "control character in rule")
        #expect(V.problem(inRule: "-m comment --comment") == "--comment without text")
        #expect(V.problem(inRule: "-m comment --comment \"a\\\"b ü\" -j ACCEPT") == nil)
        #expect(V.problem(inRule: "-m comment --comment \"\(String(repeating: "ü", count: 128))\"") == "comment longer than 255 bytes")
        #expect(V.problem(inChainName: "SKP-SVC-" + String(repeating: "A", count: 21)) != nil)
        var rules = IPTablesServiceRules()
        rules.add(IPTablesRenderer.natServices, "-d 1.2.3.4/32 -m comment --comment \"x\" y\" -j SKP-SVC-X")
        #expect(rules.validationFailure != nil)
    }

    // MARK: one Service port that cannot be rendered does not stop the others

    /// A plan the kernel would refuse (an IPv6 frontend in the IPv4 table: a 16-byte key in a map of
    /// 4-byte addresses) is left out and reported; the other Service is rendered and the batch validates.
    @Test func anUnrenderableServicePortIsSkippedAndTheRestSync() throws {
        let bad = F.name("ns1", "bad"), good = F.name("ns1", "good")
        let snapshot = F.snapshot([(F.service(bad, "172.30.0.41", externalIPs: ["192.168.60.1"]), [F.endpoint("10.180.0.1")]),
                                   (F.service(good, "172.30.0.42", nodePort: 30080), [F.endpoint("10.180.0.2")])])
        let renderer = NFTablesRenderer(config: F.config, family: .ipv4)
        var plan = ForwardingPlan(snapshot: snapshot, config: F.config, family: .ipv4)
        plan.services[bad]!.frontends[1].address = IPAddress("fd00::1")!
        let ruleset = NFTablesRuleset(plan: plan, renderer: renderer)
        #expect(ruleset.skipped.map(\.name) == [bad])
        #expect(ruleset.skipped.first?.reason.contains("element") == true)
        #expect(ruleset.services[bad] == nil && ruleset.services[good] != nil)
        // None of its elements went in: the endpoints map holds the good Service's only.
        #expect(ruleset.elements(of: NFTablesNames.serviceEndpoints).count == 1)
        let t = NFTablesTransaction.full(ruleset, existingChains: [], existingSets: [])
        for command in t.batch.commands { #expect(command.validationFailure == nil, "\(command)") }
    }
}
