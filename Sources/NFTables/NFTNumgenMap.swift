/// `dnat ip to numgen inc mod N map @MAP`: a counter (or a random number) picks one
/// `address . port` value from a named data map keyed 0 ..< N, and the packet is DNATed to it.
///
/// One rule however many endpoints, and the endpoints are map elements: replacing one is an
/// element update, which the kernel commits without revalidating the table's chains (a changed
/// rule makes it revalidate all of them).
extension NFTStatement {
    public static func dnat(numgen mode: NFTExpression.NumgenMode, modulus: UInt32, map: String, family: NFTFamily) -> NFTStatement {
        // The map's value is the address then the port, each in its own 32-bit word: the port
        // starts right after the address (reg 9 after an IPv4 address in reg 1, reg 2 after IPv6).
        let portRegister = NFTRegister.word(family == .ip6 ? 4 : 1)
        return NFTStatement([
            .numgen(mode, modulus: modulus, offset: 0, into: .r1),
            .lookup(.named(map), from: .r1, into: .r1, inverted: false),
            // No NAT flags, as nft: the kernel sets "proto specified" itself for a port register.
            .nat(.dnat, family: family, address: .r1, port: portRegister, flags: 0),
        ], description: "dnat \(family.rawValue) to numgen \(mode.name) mod \(modulus) map @\(map)")
    }

    /// The map such a statement reads: `typeof numgen MODE mod N : ip daddr . PROTO dport`.
    public static func endpointMap(_ name: String, in table: NFTTable, mode: NFTExpression.NumgenMode, modulus: UInt32,
                                   protocol proto: NFTProtocol, comment: String? = nil) -> NFTSet {
        let v6 = table.family == .ip6
        return NFTSet.map(name, in: table, typeof: .numgen(mode, modulus: modulus), key: .integer(bytes: 4),
                          to: .concat([v6 ? .ip6Daddr : .ipDaddr, .dport(proto)]),
                          value: .concat(v6 ? .ipv6Addr : .ipv4Addr, .inetService), comment: comment)
    }
}
