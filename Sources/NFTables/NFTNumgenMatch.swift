/// `numgen inc|random mod N VALUE`: a match on a fresh number, without a set. A list of rules
/// `numgen inc mod N 0 goto a`, `numgen inc mod N-1 0 goto b`, …, `goto z` picks endpoints in turn
/// (each rule has its own counter, like iptables' `statistic --mode nth`), or uniformly with
/// `random`. Unlike `numgen … vmap { … }` it needs no anonymous set, which the kernel binds by
/// walking the whole transaction: that is quadratic in a large batch.
extension NFTStatement {
    public static func numgen(_ mode: NFTExpression.NumgenMode, modulus: UInt32, equals value: UInt32) -> NFTStatement {
        NFTStatement([.numgen(mode, modulus: modulus, offset: 0, into: .r1), .cmp(.eq, .r1, .integer(value))],
                     description: "numgen \(mode.name) mod \(modulus) \(value)")
    }
}
