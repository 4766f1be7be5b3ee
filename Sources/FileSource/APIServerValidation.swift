import KubernetesAPI

/// The API server's own checks on the fields we use, applied to objects read from files (the
/// Kubernetes source gets only objects the API server already accepted). An object the API server
/// would refuse is refused here too, with the field and the rule, before any backend sees it.
enum APIServerValidation {
    /// A field the API server would refuse: its path from the object's root, and why.
    struct Problem: Error {
        var path: [String]
        var reason: String
        var field: String { path.enumerated().map { i, p in Int(p) != nil ? "[\(p)]" : (i == 0 ? p : "." + p) }.joined() }
    }

    static func check(_ service: ServiceObject) throws(Problem) {
        try checkMeta(service.metadata, nameRule: .dns1035Label)
        var portNames: Set<String> = []
        let ports = service.spec?.ports ?? []
        for (i, port) in ports.enumerated() {
            let at = ["spec", "ports", "\(i)"]
            if let name = port.name, !name.isEmpty {
                try require(isDNS1123Label(name), at + ["name"], "\"\(name)\" must be a DNS-1123 label (lower-case letters, digits and '-', at most 63)")
                try require(portNames.insert(name).inserted, at + ["name"], "\"\(name)\" is used by two ports")
            } else {
                try require(ports.count == 1, at + ["name"], "required when a Service has more than one port")
            }
            if let number = port.port { try require((1...65535).contains(number), at + ["port"], "\(number) is not a port (1-65535)") }
            if let nodePort = port.nodePort { try require((0...65535).contains(nodePort), at + ["nodePort"], "\(nodePort) is not a port") }
            switch port.targetPort {
            case .int(let n)?: try require((1...65535).contains(n), at + ["targetPort"], "\(n) is not a port (1-65535)")
            case .string(let s)?: try require(isIANAServiceName(s), at + ["targetPort"], "\"\(s)\" must be an IANA service name (at most 15 lower-case letters, digits and '-', with a letter)")
            case nil: break
            }
        }
    }

    static func check(_ slice: EndpointSliceObject) throws(Problem) {
        try checkMeta(slice.metadata, nameRule: .dns1123Subdomain)
        for (i, port) in (slice.ports ?? []).enumerated() {
            let at = ["ports", "\(i)"]
            if let name = port.name, !name.isEmpty {
                try require(isDNS1123Label(name), at + ["name"], "\"\(name)\" must be a DNS-1123 label (lower-case letters, digits and '-', at most 63)")
            }
            if let number = port.port { try require((0...65535).contains(number), at + ["port"], "\(number) is not a port") }
        }
    }

    enum NameRule { case dns1035Label, dns1123Subdomain }

    private static func checkMeta(_ meta: ObjectMeta, nameRule: NameRule) throws(Problem) {
        if let namespace = meta.namespace {
            try require(isDNS1123Label(namespace), ["metadata", "namespace"], "\"\(namespace)\" must be a DNS-1123 label (lower-case letters, digits and '-', at most 63)")
        }
        guard let name = meta.name else { return }
        switch nameRule {
        case .dns1035Label:
            try require(isDNS1035Label(name), ["metadata", "name"], "\"\(name)\" must be a DNS-1035 label (a lower-case letter, then letters, digits and '-', at most 63)")
        case .dns1123Subdomain:
            try require(isDNS1123Subdomain(name), ["metadata", "name"], "\"\(name)\" must be a DNS-1123 subdomain (lower-case labels joined by '.', at most 253)")
        }
    }

    private static func require(_ ok: Bool, _ path: [String], _ reason: String) throws(Problem) {
        if !ok { throw Problem(path: path, reason: reason) }
    }

    // MARK: the API machinery's rules (k8s.io/apimachinery/pkg/util/validation)

    private static func isLowerAlnum(_ c: UInt8) -> Bool { (0x61...0x7A).contains(c) || (0x30...0x39).contains(c) }

    /// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63.
    static func isDNS1123Label(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard (1...63).contains(b.count), isLowerAlnum(b.first!), isLowerAlnum(b.last!) else { return false }
        return b.allSatisfy { isLowerAlnum($0) || $0 == 0x2D }
    }

    /// A DNS-1123 label that starts with a letter.
    static func isDNS1035Label(_ s: String) -> Bool {
        isDNS1123Label(s) && (0x61...0x7A).contains(s.utf8.first!)
    }

    /// DNS-1123 labels joined by dots, at most 253.
    static func isDNS1123Subdomain(_ s: String) -> Bool {
        s.utf8.count <= 253 && s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNS1123Label(String($0)) }
    }

    /// IANA_SVC_NAME: at most 15 of `[a-z0-9-]`, at least one letter, no leading, trailing or double '-'.
    static func isIANAServiceName(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard (1...15).contains(b.count), b.first != 0x2D, b.last != 0x2D, !s.contains("--") else { return false }
        return b.allSatisfy { isLowerAlnum($0) || $0 == 0x2D } && b.contains { (0x61...0x7A).contains($0) }
    }
}
