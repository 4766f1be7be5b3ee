import NFTables
import ProxyModel

extension NFTablesRenderer {
    /// The rules of one Service port, or why the kernel would refuse them. A sync is one netlink
    /// transaction, and a single bad command fails all of it: every Service port is checked here,
    /// as it is rendered, so a bad one is left out instead (its key blocks given back to `slots`).
    public func validatedServiceRules(_ plan: ServiceForwardingPlan,
                                      slots: inout NFTablesEndpointSlots) -> Result<NFTablesServiceRules, SkippedServicePort> {
        let rules = serviceRules(plan, slots: &slots)
        guard let reason = validationFailure(rules) else { return .success(rules) }
        slots.release(plan.name)
        return .failure(SkippedServicePort(name: plan.name, family: family, reason: reason))
    }

    /// The first problem the command validation finds in what one Service port adds: its chains,
    /// rules and affinity sets, and its elements checked against the shared map they go to.
    func validationFailure(_ rules: NFTablesServiceRules) -> String? {
        for chain in rules.chains {
            if let problem = NFTCommand.addChain(chain.chain).validationFailure { return "chain \(chain.name): \(problem)" }
            for rule in chain.rules {
                if let problem = NFTCommand.addRule(rule).validationFailure { return "rule in \(chain.name): \(problem)" }
            }
        }
        for set in rules.sets {
            if let problem = NFTCommand.addSet(set).validationFailure { return "set \(set.name): \(problem)" }
        }
        let shared = rules.elements.isEmpty ? [:] : Dictionary(uniqueKeysWithValues: sharedSets().map { ($0.name, $0) })
        for (name, elements) in rules.elements.sorted(by: { $0.key < $1.key }) {
            guard let set = shared[name] ?? endpointMap(named: name) else { return "elements for \(name), which is not a shared set" }
            if let problem = NFTCommand.addElements(set, elements).validationFailure { return "element of \(name): \(problem)" }
        }
        return nil
    }

    /// The `service-endpoints-M` map of that name, if it is one.
    func endpointMap(named name: String) -> NFTSet? {
        let prefix = NFTablesNames.serviceEndpoints(0).dropLast()
        guard name.hasPrefix(prefix), let index = Int(name.dropFirst(prefix.count)), index >= 0 else { return nil }
        return endpointMap(index)
    }
}
