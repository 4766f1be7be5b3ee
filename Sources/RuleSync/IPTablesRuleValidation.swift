import ProxyModel

/// How `iptables-restore` reads one rule line, and what it (or the kernel) would refuse in it.
/// A restore is atomic per table, so a single bad line fails every Service's rules: each Service
/// port's lines are checked as they are rendered, and a bad one is left out instead.
public enum IPTablesRuleValidation {
    /// `iptables-restore` collects each argument in a 1024-byte buffer ("Parameter too long!").
    static let argumentMaxBytes = 1023
    /// Chain names: `XT_EXTENSION_MAXNAMELEN` (29) with the NUL.
    static let chainNameMaxBytes = 28

    /// The arguments of one line as `iptables-restore` splits them: on spaces and tabs outside
    /// double quotes; inside them, `\` makes the next character literal. Nil if a quote is left open.
    public static func arguments(_ line: String) -> [String]? {
        var words: [String] = [], current = "", quoted = false, escaped = false, started = false
        for ch in line.unicodeScalars {
            if quoted {
                if escaped { current.unicodeScalars.append(ch); escaped = false } else if ch == "\\" { escaped = true } else if ch == "\"" { quoted = false } else { current.unicodeScalars.append(ch) }
            } else if ch == "\"" {
                quoted = true
                started = true
            } else if ch == " " || ch == "\t" {
                if started || !current.isEmpty { words.append(current) }
                current = ""
                started = false
            } else {
                current.unicodeScalars.append(ch)
            }
        }
        if quoted { return nil }
        if started || !current.isEmpty { words.append(current) }
        return words
    }

    /// Why `iptables-restore` would refuse this rule (the text after `-A CHAIN `); nil if it would not.
    /// Splits as `arguments(_:)` does, over the UTF-8 bytes and without building the arguments:
    /// every rendered rule goes through here.
    public static func problem(inRule rule: String) -> String? {
        let commentFlag = Array("--comment".utf8)
        var quoted = false, escaped = false, started = false
        var length = 0, isCommentFlag = true  // the argument so far: its length, and whether it still reads "--comment"
        var previousWasCommentFlag = false
        var previousByte: UInt8 = 0
        func endArgument() -> String? {
            defer { length = 0; isCommentFlag = true; started = false }
            guard started || length > 0 else { return nil }
            if length > argumentMaxBytes { return "argument longer than \(argumentMaxBytes) bytes" }
            if previousWasCommentFlag && length > RuleComment.iptablesMaxBytes { return "comment longer than \(RuleComment.iptablesMaxBytes) bytes" }
            previousWasCommentFlag = isCommentFlag && length == commentFlag.count
            return nil
        }
        func literal(_ byte: UInt8) {
            isCommentFlag = isCommentFlag && length < commentFlag.count && commentFlag[length] == byte
            length += 1
        }
        for byte in rule.utf8 {
            // A line break ends the line: what follows would be read as a rule of its own. C1
            // controls are U+0080…U+009F, 0xC2 0x80…0x9F in UTF-8.
            if byte < 0x20 || byte == 0x7F || (previousByte == 0xC2 && (0x80...0x9F).contains(byte)) { return "control character in rule" }
            previousByte = byte
            if quoted {
                if escaped { literal(byte); escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { quoted = false } else { literal(byte) }
            } else if byte == UInt8(ascii: "\"") {
                quoted = true
                started = true
            } else if byte == UInt8(ascii: " ") {
                if let problem = endArgument() { return problem }
            } else {
                literal(byte)
            }
        }
        if quoted { return "unterminated quote in rule" }
        if let problem = endArgument() { return problem }
        return previousWasCommentFlag ? "--comment without text" : nil
    }

    /// Why a chain of this name could not exist.
    public static func problem(inChainName name: String) -> String? {
        if name.isEmpty { return "empty chain name" }
        if name.utf8.count > chainNameMaxBytes { return "chain name longer than \(chainNameMaxBytes) bytes" }
        if name.unicodeScalars.contains(where: { RuleComment.isControl($0) || $0 == " " || $0 == "\"" }) { return "chain name \(name) has a space, quote or control character" }
        return nil
    }
}

extension IPTablesServiceRules {
    /// The first problem in this Service port's lines: its chains' names and rules, and its rules
    /// in the shared dispatch chains.
    var validationFailure: String? {
        // Looked for unsorted (the usual case: none); named in a stable order when there is one.
        guard firstProblem(chains, dispatch) != nil else { return nil }
        return firstProblem(chains.sorted { $0.key < $1.key }, dispatch.sorted { $0.key < $1.key })
    }

    private func firstProblem<C: Sequence, D: Sequence>(_ chains: C, _ dispatch: D) -> String?
    where C.Element == (key: IPTablesChainRef, value: [String]), D.Element == (key: IPTablesChainRef, value: [String]) {
        for (ref, rules) in chains {
            if let problem = IPTablesRuleValidation.problem(inChainName: ref.name) { return problem }
            for rule in rules {
                if let problem = IPTablesRuleValidation.problem(inRule: rule) { return "rule in \(ref): \(problem)" }
            }
        }
        for (ref, rules) in dispatch {
            for rule in rules {
                if let problem = IPTablesRuleValidation.problem(inRule: rule) { return "rule in \(ref): \(problem)" }
            }
        }
        return nil
    }
}

extension IPTablesRenderer {
    /// The rules of one Service port, or why `iptables-restore` would refuse them.
    public func validatedServiceRules(_ plan: ServiceForwardingPlan, nodePorts: NodePortScope) -> Result<IPTablesServiceRules, SkippedServicePort> {
        let rules = serviceRules(plan, nodePorts: nodePorts)
        guard let reason = rules.validationFailure else { return .success(rules) }
        return .failure(SkippedServicePort(name: plan.name, family: family, reason: reason))
    }
}
