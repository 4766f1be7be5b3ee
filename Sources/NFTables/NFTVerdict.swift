/// What a rule or a verdict-map element decides.
public enum NFTVerdict: Sendable, Hashable, CustomStringConvertible {
    case accept
    case drop
    case `return`
    case `continue`
    case jump(String)
    case goto(String)

    /// The kernel's verdict code (`NF_ACCEPT`, `NF_DROP`, `NFT_RETURN`, `NFT_JUMP`, ...).
    var code: Int32 {
        switch self {
        case .drop: 0
        case .accept: 1
        case .continue: -1
        case .jump: -3
        case .goto: -4
        case .return: -5
        }
    }

    /// The chain a `jump` or `goto` targets.
    var chain: String? {
        switch self {
        case .jump(let chain), .goto(let chain): chain
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .accept: "accept"
        case .drop: "drop"
        case .return: "return"
        case .continue: "continue"
        case .jump(let chain): "jump \(chain)"
        case .goto(let chain): "goto \(chain)"
        }
    }
}
