import NFTables
import ProxyModel

/// Checks each Service port's rules as they are rendered. A sync is one netlink transaction, and a
/// single command the kernel refuses fails all of it: a Service port with one is left out instead
/// , so every other Service keeps syncing. Made once per sync: it holds
/// the shared sets by name, which the elements are checked against, and the sets of the picks
/// met so far (a pick's sets are rendered once per sync, not once per Service port).
public struct NFTablesServiceValidator: Sendable {
    public let renderer: NFTablesRenderer
    private var sharedSets: [String: NFTSet]
    private var picksSeen: Set<NFTablesPick> = []

    public init(_ renderer: NFTablesRenderer) {
        self.renderer = renderer
        sharedSets = Dictionary(uniqueKeysWithValues: renderer.sharedSets().map { ($0.name, $0) })
    }

    /// The rules of one Service port, or why the kernel would refuse them.
    public mutating func serviceRules(_ plan: ServiceForwardingPlan) -> Result<NFTablesServiceRules, SkippedServicePort> {
        let rules = renderer.serviceRules(plan)
        guard let reason = validationFailure(rules) else { return .success(rules) }
        return .failure(SkippedServicePort(name: plan.name, family: renderer.family, reason: reason))
    }

    /// The first problem the command validation finds in what one Service port adds: its chains,
    /// rules and affinity sets, and its elements checked against the shared map they go to.
    mutating func validationFailure(_ rules: NFTablesServiceRules) -> String? {
        for pick in rules.picks where picksSeen.insert(pick).inserted {
            for set in renderer.sets(of: pick) { sharedSets[set.name] = set }
        }
        for chain in rules.chains {
            if let problem = NFTCommand.addChain(chain.chain).validationFailure { return "chain \(chain.name): \(problem)" }
            for rule in chain.rules {
                if let problem = NFTCommand.addRule(rule).validationFailure { return "rule in \(chain.name): \(problem)" }
            }
        }
        for set in rules.sets {
            if let problem = NFTCommand.addSet(set).validationFailure { return "set \(set.name): \(problem)" }
        }
        for (name, elements) in rules.elements {
            guard let set = sharedSets[name] else { return "elements for \(name), which is not a shared set" }
            if let problem = NFTCommand.addElements(set, elements).validationFailure { return "element of \(name): \(problem)" }
        }
        return nil
    }

}
