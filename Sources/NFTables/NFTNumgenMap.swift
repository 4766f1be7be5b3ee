/// `dnat ip to numgen inc mod N offset K map @MAP`: a counter (or a random number) picks a key
/// in `K ..< K + N`, and the packet is DNATed to the `address . port` the data map holds there.
///
/// One rule however many endpoints, with the endpoints as map elements: replacing one is an
/// element update, which the kernel commits without revalidating the table's chains (a changed
/// rule makes it revalidate all of them). With offsets, many rules share one map, so a table does
/// not need a set per Service (the kernel finds a set by walking the table's list of sets).
extension NFTStatement {
    public static func dnat(numgen mode: NFTExpression.NumgenMode, modulus: UInt32, offset: UInt32 = 0, map: String,
                            family: NFTFamily) -> NFTStatement {
        // The value is the address then the port, each in its own 32-bit word: the port starts
        // right after the address (reg 9 after an IPv4 address in reg 1, reg 2 after IPv6).
        let portRegister = NFTRegister.word(family == .ip6 ? 4 : 1)
        return NFTStatement([
            .numgen(mode, modulus: modulus, offset: offset, into: .r1),
            .lookup(.named(map), from: .r1, into: .r1, inverted: false),
            // No NAT flags, as nft: the kernel sets "proto specified" itself for a port register.
            .nat(.dnat, family: family, address: .r1, port: portRegister, flags: 0),
        ], description: "dnat \(family.rawValue) to numgen \(mode.name) mod \(modulus)\(offset == 0 ? "" : " offset \(offset)") map @\(map)")
    }
}

extension NFTSet {
    /// The map such statements read: numbers to `address . port`, declared as nft would need it to
    /// read the ruleset back, `typeof numgen inc mod 1 : ip daddr . th dport` (the typeof fixes
    /// only the types; keys are not limited by its modulus).
    public static func addressPortMap(_ name: String, in table: NFTTable, comment: String? = nil) -> NFTSet {
        let v6 = table.family == .ip6
        return .map(name, in: table, typeof: .numgen(.inc, modulus: 1), key: .integer(bytes: 4),
                    to: .concat([v6 ? .ip6Daddr : .ipDaddr, .thDport]), value: .concat(v6 ? .ipv6Addr : .ipv4Addr, .inetService),
                    comment: comment)
    }
}

/// `dnat ip to ip daddr . meta l4proto . th dport . numgen inc mod N offset K map @MAP`: the
/// frontend the packet was sent to and a counter (or random number) pick one key of a map shared
/// by every Service, `frontend . slot : address . port`. One rule per endpoint count N serves every
/// Service with N endpoints, so a Service or an endpoint change is a change of map elements only.
extension NFTStatement {
    public static func dnat(key fields: [NFTField], numgen mode: NFTExpression.NumgenMode, modulus: UInt32, offset: UInt32 = 0,
                            map: String, family: NFTFamily) -> NFTStatement {
        let words = fields.reduce(0) { $0 + NFTDataType.padded($1.length) / 4 }
        let portRegister = NFTRegister.word(family == .ip6 ? 4 : 1)
        return NFTStatement(NFTField.loadConcatenation(fields) + [
            .numgen(mode, modulus: modulus, offset: offset, into: .word(words)),
            .lookup(.named(map), from: .r1, into: .r1, inverted: false),
            .nat(.dnat, family: family, address: .r1, port: portRegister, flags: 0),
        ], description: "dnat \(family.rawValue) to \(fields.nftText) . numgen \(mode.name) mod \(modulus)\(offset == 0 ? "" : " offset \(offset)") map @\(map)")
    }
}

extension NFTSet {
    /// The map such statements read, `typeof FIELDS . numgen inc mod 1 : ip daddr . th dport`
    /// (typeof, so `nft list` can print and read back a key with numgen's plain integer in it).
    public static func frontendSlotMap(_ name: String, in table: NFTTable, key fields: [NFTTypeof], keyType: NFTDataType,
                                       comment: String? = nil) -> NFTSet {
        let v6 = table.family == .ip6
        return .map(name, in: table, typeof: .concat(fields + [.numgen(.inc, modulus: 1)]),
                    key: NFTDataType(keyType.components + [.integer(bytes: 4)]),
                    to: .concat([v6 ? .ip6Daddr : .ipDaddr, .thDport]), value: .concat(v6 ? .ipv6Addr : .ipv4Addr, .inetService),
                    comment: comment)
    }
}
