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
    public static func problem(inRule rule: String) -> String? {
        // A line break ends the line: what follows would be read as a rule of its own.
        if rule.unicodeScalars.contains(where: RuleComment.isControl) { return "control character in rule" }
        guard let args = arguments(rule) else { return "unterminated quote in rule" }
        for (i, arg) in args.enumerated() {
            if arg.utf8.count > argumentMaxBytes { return "argument longer than \(argumentMaxBytes) bytes" }
            if arg == "--comment" {
                guard i + 1 < args.count else { return "--comment without text" }
                if args[i + 1].utf8.count > RuleComment.iptablesMaxBytes { return "comment longer than \(RuleComment.iptablesMaxBytes) bytes" }
            }
        }
        return nil
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
        for (ref, rules) in chains.sorted(by: { $0.key < $1.key }) {
            if let problem = IPTablesRuleValidation.problem(inChainName: ref.name) { return problem }
            for rule in rules {
                if let problem = IPTablesRuleValidation.problem(inRule: rule) { return "rule in \(ref): \(problem)" }
            }
        }
        for (ref, rules) in dispatch.sorted(by: { $0.key < $1.key }) {
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
