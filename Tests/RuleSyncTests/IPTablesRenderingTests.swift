import ProxyModel
import Testing
@testable import RuleSync

@Suite struct IPTablesChainNameTests {
    @Test func sha256MatchesTheStandardVectors() {
        func hex(_ s: String) -> String { SHA256.digest(Array(s.utf8)).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }
        #expect(hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(String(repeating: "a", count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func chainNamesAreKubeProxysHashesWithOurPrefix() {
        // The same hashes kube-proxy's proxier_test.go shows for ns1/svc1:p80 and endpoint 10.180.0.1:80.
        let name = Fixture.name("ns1", "svc1")
        #expect(IPTablesChains.clusterPolicy(name) == "SKP-SVC-XPGD46QRK7WJZT7O")
        #expect(IPTablesChains.endpoint(name, Fixture.endpoint("10.180.0.1", 80)) == "SKP-SEP-SXIVWICOYRO3J4NJ")
        #expect(IPTablesChains.external(name).count <= 28)
    }
}

@Suite struct IPTablesRenderingTests {
    typealias F = Fixture
    let web = F.name("ns1", "svc1")
    let three = [F.endpoint("10.180.0.1"), F.endpoint("10.180.0.2"), F.endpoint("10.180.0.3")]

    func chain(_ text: String, _ name: String) -> [String] {
        text.split(separator: "\n").filter { $0.hasPrefix("-A \(name) ") }.map { String($0.dropFirst(4 + name.count)) }
    }

    @Test func roundRobinUsesNthCountersAndEndpointChainsForLocalEndpoints() {
        let eps = [F.endpoint("10.180.0.1", local: true), F.endpoint("10.180.0.2"), F.endpoint("10.180.0.3")]
        let text = F.render(F.snapshot([(F.service(web, "172.30.0.41"), eps)]))
        let svc = chain(text, IPTablesChains.clusterPolicy(web))
        let sep = IPTablesChains.endpoint(web, eps[0])
        #expect(svc == [
            "-d 172.30.0.41 -p tcp --dport 80 ! -s 10.0.0.0/8 -j SKP-MARK-MASQ",
            "-m statistic --mode nth --every 3 --packet 0 -j \(sep)",
            "-m statistic --mode nth --every 2 --packet 0 -p tcp -j DNAT --to-destination 10.180.0.2:8080",
            "-p tcp -j DNAT --to-destination 10.180.0.3:8080",
        ])
        // Only the local endpoint can reach itself through us: only it needs the hairpin rule.
        #expect(chain(text, sep) == ["-s 10.180.0.1 -j SKP-MARK-MASQ", "-p tcp -j DNAT --to-destination 10.180.0.1:8080"])
        #expect(!text.contains(IPTablesChains.endpoint(web, eps[1])))
    }

    @Test func externalLocalPolicyKeepsEndpointChainsForEveryEndpoint() {
        let svc = F.service(web, "172.30.0.41", nodePort: 30080, externalPolicy: .local)
        let text = F.render(F.snapshot([(svc, three)]))
        for ep in three { #expect(chain(text, IPTablesChains.endpoint(web, ep)).first == "-s \(ep.address) -j SKP-MARK-MASQ") }
    }

    @Test func randomPickUsesProbabilities() {
        let config = RuleSyncConfig(clusterCIDRs: [], endpointPick: .random)
        let text = F.render(F.snapshot([(F.service(web, "172.30.0.41"), three)]), config: config)
        let svc = chain(text, IPTablesChains.clusterPolicy(web))
        #expect(svc.count == 3)  // no cluster CIDR: no masquerade rule
        #expect(svc[0].hasPrefix("-m statistic --mode random --probability 0.3333333333 "))
        #expect(svc[1].hasPrefix("-m statistic --mode random --probability 0.5000000000 "))
    }

    @Test func clientIPAffinityChecksThenSetsRecentLists() {
        let svc = F.service(web, "172.30.0.41", affinity: .clientIP(timeoutSeconds: 600))
        let text = F.render(F.snapshot([(svc, three)]))
        let sep0 = IPTablesChains.endpoint(web, three[0])
        let rules = chain(text, IPTablesChains.clusterPolicy(web))
        #expect(rules[1] == "-m recent --name \(sep0) --rcheck --seconds 600 --reap -j \(sep0)")
        #expect(chain(text, sep0)[1] == "-p tcp -m recent --name \(sep0) --set -j DNAT --to-destination 10.180.0.1:8080")
    }

    @Test func fullInputHooksTheStandardChainsAndKeepsTheNodePortCatchAllLast() {
        let text = F.render(F.snapshot([(F.service(web, "172.30.0.41", nodePort: 30080), three)]))
        #expect(text.contains("-I PREROUTING 1 -j SKP-SERVICES"))
        #expect(text.contains("-I FORWARD 1 -m conntrack --ctstate NEW -j SKP-PROXY-FIREWALL"))
        #expect(chain(text, "SKP-SERVICES").last == "-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j SKP-NODEPORTS")
        #expect(chain(text, "SKP-POSTROUTING").contains("-m mark ! --mark 0x4000/0x4000 -j RETURN"))
    }

    @Test func masqueradeBitSetsTheMark() {
        let config = RuleSyncConfig(masqueradeBit: 3)
        #expect(F.render(F.snapshot([]), config: config).contains("-A SKP-MARK-MASQ -j MARK --or-mark 0x8"))
    }

    // MARK: partial restores

    func ruleset(_ s: ProxySnapshot) -> IPTablesRuleset {
        IPTablesRuleset(plan: ForwardingPlan(snapshot: s, config: F.config, family: .ipv4),
                        renderer: IPTablesRenderer(config: F.config, family: .ipv4))
    }

    func manyServices(_ n: Int) -> [(ServicePort, [Endpoint])] {
        (0..<n).map { i in
            (F.service(F.name("ns", "svc\(i)"), "172.30.\(i / 250).\(i % 250 + 1)", nodePort: 30000 + i),
             [F.endpoint("10.180.\(i / 250).\(i % 250 + 1)", local: true), F.endpoint("10.181.\(i / 250).\(i % 250 + 1)", local: true)])
        }
    }

    @Test func endpointChangeRewritesOnlyThatServicesChains() {
        var services = manyServices(100)
        let before = F.snapshot(services)
        services[7].1.removeLast()
        let after = F.snapshot(services)
        let diff = SnapshotDiff(from: before, to: after)
        var next = ruleset(before)
        next.services[services[7].0.name] = ruleset(after).services[services[7].0.name]
        let input = IPTablesRestoreInput.partial(from: ruleset(before), to: next, changed: diff.changed)
        let name = services[7].0.name
        let gone = IPTablesChains.endpoint(name, F.endpoint("10.181.0.8", local: true))
        #expect(input.text == """
            *nat
            :\(IPTablesChains.clusterPolicy(name)) - [0:0]
            :\(gone) - [0:0]
            -A \(IPTablesChains.clusterPolicy(name)) -d 172.30.0.8 -p tcp --dport 80 ! -s 10.0.0.0/8 -j SKP-MARK-MASQ
            -A \(IPTablesChains.clusterPolicy(name)) -j \(IPTablesChains.endpoint(name, F.endpoint("10.180.0.8", local: true)))
            -X \(gone)
            COMMIT

            """)
        #expect(input.rulesWritten == 2)
        #expect(input.chainsDeleted == 1)
        #expect(!input.text.contains("SKP-SERVICES"))
    }

    @Test func removedServiceLosesItsDispatchRulesAndChains() {
        let services = manyServices(3)
        let before = F.snapshot(services)
        let after = F.snapshot(Array(services.dropFirst()))
        let input = IPTablesRestoreInput.partial(from: ruleset(before), to: ruleset(after), changed: [services[0].0.name])
        let name = services[0].0.name
        #expect(input.text.contains("-D SKP-SERVICES -d 172.30.0.1 -p tcp --dport 80"))
        #expect(input.text.contains("-D SKP-NODEPORTS -p tcp --dport 30000"))
        #expect(input.text.contains("-X \(IPTablesChains.clusterPolicy(name))"))
        #expect(input.text.contains("-X \(IPTablesChains.external(name))"))
        #expect(!input.text.contains("-A "))
    }

    @Test func addedServiceIsInsertedAboveTheNodePortCatchAll() {
        let services = manyServices(3)
        let before = F.snapshot(Array(services.dropLast()))
        let after = F.snapshot(services)
        let input = IPTablesRestoreInput.partial(from: ruleset(before), to: ruleset(after), changed: [services[2].0.name])
        #expect(input.text.contains("-I SKP-SERVICES 1 -d 172.30.0.3 -p tcp --dport 80"))
        #expect(input.text.contains("-A SKP-NODEPORTS -p tcp --dport 30002"))
    }

    @Test func unchangedServicesGiveAnEmptyInput() {
        let s = F.snapshot(manyServices(5))
        #expect(IPTablesRestoreInput.partial(from: ruleset(s), to: ruleset(s), changed: [F.name("ns", "svc1")]).isEmpty)
    }

    @Test func fullInputDeletesStaleChainsOfOursOnly() {
        let stale = IPTablesChainRef(.nat, "SKP-SVC-GONE")
        let text = IPTablesRestoreInput.full(ruleset(F.snapshot([])), existingChains: [stale], missingHooks: []).text
        #expect(text.contains(":SKP-SVC-GONE - [0:0]"))
        #expect(text.contains("-X SKP-SVC-GONE"))
        #expect(!text.contains("-I "))
    }

    // MARK: cleanup, save listings, variants, errors

    static let saved = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :FOREIGN - [0:0]
        :SKP-SERVICES - [0:0]
        :SKP-SVC-XPGD46QRK7WJZT7O - [0:0]
        -A PREROUTING -j FOREIGN
        -A PREROUTING -j SKP-SERVICES
        -A FOREIGN -j RETURN
        -A SKP-SERVICES -d 172.30.0.41/32 -p tcp -m tcp --dport 80 -j SKP-SVC-XPGD46QRK7WJZT7O
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD DROP [0:0]
        -A FORWARD -j ACCEPT
        COMMIT
        """

    @Test func cleanupRemovesOnlyOurHooksAndChains() {
        let input = IPTablesRestoreInput.cleanup(IPTablesSaveListing(Self.saved))
        #expect(input.text == """
            *nat
            :SKP-SERVICES - [0:0]
            :SKP-SVC-XPGD46QRK7WJZT7O - [0:0]
            -D PREROUTING -j SKP-SERVICES
            -X SKP-SERVICES
            -X SKP-SVC-XPGD46QRK7WJZT7O
            COMMIT

            """)
    }

    @Test func missingHooksAreFoundByTargetInTheirStandardChain() {
        let missing = IPTablesSaveListing(Self.saved).missingHooks()
        #expect(!missing.contains { $0.chain == "PREROUTING" })
        #expect(missing.contains { $0.chain == "OUTPUT" && $0.table == .nat })
        #expect(missing.count == IPTablesHook.all.count - 1)
    }

    @Test func variantFollowsExistingRulesAsKubeProxyDoes() {
        let many = (0..<20).map { "-A INPUT -s 10.0.0.\($0) -j ACCEPT" }.joined(separator: "\n")
        #expect(IPTablesVariant.choose(legacySave: "", nftSave: "") == .nft)
        #expect(IPTablesVariant.choose(legacySave: many, nftSave: "-A INPUT -j ACCEPT") == .legacy)
        #expect(IPTablesVariant.choose(legacySave: many, nftSave: ":KUBE-IPTABLES-HINT - [0:0]") == .nft)
        #expect(IPTablesVariant.choose(legacySave: ":SKP-SERVICES - [0:0]", nftSave: many) == .legacy)
        #expect(IPTablesVariant.legacy.restoreCommand(.ipv6) == "ip6tables-legacy-restore")
    }

    @Test func restoreErrorsNameTheFailingLine() {
        #expect(CommandError.reportedLine(in: "iptables-restore: line 12 failed\n") == 12)
        #expect(CommandError.reportedLine(in: "iptables-nft-restore v1.8.9 (nf_tables): Couldn't load match `x'\n\nError occurred at line: 4\n") == 4)
        #expect(CommandError.reportedLine(in: "Another app is currently holding the xtables lock.") == nil)
    }
}
