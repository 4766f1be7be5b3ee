/// A chain in a table. A chain with a `hook` is a base chain that the kernel calls for packets;
/// one without is a regular chain that rules reach by `jump` or `goto`.
public struct NFTChain: Sendable, Hashable {
    public var table: NFTTable
    public var name: String
    public var hook: Hook?

    public init(table: NFTTable, name: String, hook: Hook? = nil) {
        self.table = table
        self.name = name
        self.hook = hook
    }

    /// A regular chain.
    public static func regular(_ name: String, in table: NFTTable) -> NFTChain {
        NFTChain(table: table, name: name)
    }

    /// A base chain: `type <type> hook <hook> priority <priority>; policy <policy>;`.
    public static func base(
        _ name: String, in table: NFTTable, type: ChainType, hook: HookPoint,
        priority: Int32, policy: Policy = .accept
    ) -> NFTChain {
        NFTChain(table: table, name: name, hook: Hook(type: type, point: hook, priority: priority, policy: policy))
    }

    /// How a base chain is attached to netfilter.
    public struct Hook: Sendable, Hashable {
        public var type: ChainType
        public var point: HookPoint
        public var priority: Int32
        public var policy: Policy

        public init(type: ChainType, point: HookPoint, priority: Int32, policy: Policy = .accept) {
            self.type = type
            self.point = point
            self.priority = priority
            self.policy = policy
        }
    }

    public enum ChainType: String, Sendable, Hashable {
        case filter, nat, route
    }

    /// The netfilter hook a base chain is attached to (`NF_INET_*`).
    public enum HookPoint: UInt32, Sendable, Hashable {
        case prerouting = 0, input = 1, forward = 2, output = 3, postrouting = 4

        var name: String {
            switch self {
            case .prerouting: "prerouting"
            case .input: "input"
            case .forward: "forward"
            case .output: "output"
            case .postrouting: "postrouting"
            }
        }
    }

    /// The verdict of a base chain for packets no rule decided (`NF_DROP` = 0, `NF_ACCEPT` = 1).
    public enum Policy: UInt32, Sendable, Hashable {
        case drop = 0, accept = 1
    }
}

/// The standard priorities `nft` knows by name (`priority dstnat` is -100).
public enum NFTPriority {
    public static let raw: Int32 = -300
    public static let mangle: Int32 = -150
    public static let dstnat: Int32 = -100
    public static let filter: Int32 = 0
    public static let security: Int32 = 50
    public static let srcnat: Int32 = 100
}
