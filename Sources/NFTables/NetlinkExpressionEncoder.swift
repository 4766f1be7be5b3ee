import CNetfilter

/// Rule expressions as libnftnl objects. Part of the module's C interop with
/// `NetlinkBatchEncoder.swift`: each case sets the same `NFTNL_EXPR_*` attributes that nft sets for
/// the statement it comes from (the bytecode parity tests check this against nft itself).
extension NetlinkBatchEncoder {
    /// A libnftnl expression for `expression`, owned by the caller until added to a rule.
    static func makeExpression(_ expression: NFTExpression, anonymousSetID: UInt32?) -> OpaquePointer? {
        guard let e = nftnl_expr_alloc(expression.kind) else { return nil }
        func u32(_ a: Int, _ value: UInt32) { nftnl_expr_set_u32(e, UInt16(a), value) }
        func u64(_ a: Int, _ value: UInt64) { nftnl_expr_set_u64(e, UInt16(a), value) }
        func str(_ a: Int, _ value: String) { nftnl_expr_set_str(e, UInt16(a), value) }
        func data(_ a: Int, _ value: NFTValue) {
            value.withUnsafeBytes { _ = nftnl_expr_set(e, UInt16(a), $0.baseAddress, UInt32($0.count)) }
        }
        switch expression {
        case .payload(let base, let offset, let length, let register):
            u32(NFTNL_EXPR_PAYLOAD_DREG, register.rawValue)
            u32(NFTNL_EXPR_PAYLOAD_BASE, base.rawValue)
            u32(NFTNL_EXPR_PAYLOAD_OFFSET, offset)
            u32(NFTNL_EXPR_PAYLOAD_LEN, length)
        case .meta(let key, let register):
            u32(NFTNL_EXPR_META_KEY, key.rawValue)
            u32(NFTNL_EXPR_META_DREG, register.rawValue)
        case .metaSet(let key, let register):
            u32(NFTNL_EXPR_META_KEY, key.rawValue)
            u32(NFTNL_EXPR_META_SREG, register.rawValue)
        case .ct(let key, let register):
            u32(NFTNL_EXPR_CT_KEY, key.rawValue)
            u32(NFTNL_EXPR_CT_DREG, register.rawValue)
            if let direction = key.direction { nftnl_expr_set_u8(e, UInt16(NFTNL_EXPR_CT_DIR), direction) }
        case .cmp(let op, let register, let value):
            u32(NFTNL_EXPR_CMP_SREG, register.rawValue)
            u32(NFTNL_EXPR_CMP_OP, op.rawValue)
            data(NFTNL_EXPR_CMP_DATA, value)
        case .bitwise(let source, let destination, let mask, let xor):
            u32(NFTNL_EXPR_BITWISE_SREG, source.rawValue)
            u32(NFTNL_EXPR_BITWISE_DREG, destination.rawValue)
            u32(NFTNL_EXPR_BITWISE_LEN, UInt32(mask.count))
            data(NFTNL_EXPR_BITWISE_MASK, mask)
            data(NFTNL_EXPR_BITWISE_XOR, xor)
        case .lookup(let set, let source, let destination, let inverted):
            u32(NFTNL_EXPR_LOOKUP_SREG, source.rawValue)
            if let destination { u32(NFTNL_EXPR_LOOKUP_DREG, destination.rawValue) }
            switch set {
            case .named(let name):
                str(NFTNL_EXPR_LOOKUP_SET, name)
            case .anonymous(let anonymous):
                str(NFTNL_EXPR_LOOKUP_SET, anonymous.mapping == nil ? "__set%d" : "__map%d")
                if let anonymousSetID { u32(NFTNL_EXPR_LOOKUP_SET_ID, anonymousSetID) }
            }
            if inverted { u32(NFTNL_EXPR_LOOKUP_FLAGS, 1) }  // NFT_LOOKUP_F_INV
        case .verdict(let verdict):
            u32(NFTNL_EXPR_IMM_DREG, NFTRegister.verdict.rawValue)
            u32(NFTNL_EXPR_IMM_VERDICT, UInt32(bitPattern: verdict.code))
            if let chain = verdict.chain { str(NFTNL_EXPR_IMM_CHAIN, chain) }
        case .immediate(let value, let register):
            u32(NFTNL_EXPR_IMM_DREG, register.rawValue)
            data(NFTNL_EXPR_IMM_DATA, value)
        case .numgen(let mode, let modulus, let offset, let register):
            u32(NFTNL_EXPR_NG_DREG, register.rawValue)
            u32(NFTNL_EXPR_NG_MODULUS, modulus)
            u32(NFTNL_EXPR_NG_TYPE, mode.rawValue)
            if offset != 0 { u32(NFTNL_EXPR_NG_OFFSET, offset) }
        case .nat(let type, let family, let address, let port, let flags):
            u32(NFTNL_EXPR_NAT_TYPE, type.rawValue)
            u32(NFTNL_EXPR_NAT_FAMILY, UInt32(family.protocolFamily))
            if let address { u32(NFTNL_EXPR_NAT_REG_ADDR_MIN, address.rawValue) }
            if let port { u32(NFTNL_EXPR_NAT_REG_PROTO_MIN, port.rawValue) }
            if flags != 0 { u32(NFTNL_EXPR_NAT_FLAGS, flags) }
        case .masquerade(let flags):
            if flags != 0 { u32(NFTNL_EXPR_MASQ_FLAGS, flags) }
        case .redirect(let port, let flags):
            if let port { u32(NFTNL_EXPR_REDIR_REG_PROTO_MIN, port.rawValue) }
            if flags != 0 { u32(NFTNL_EXPR_REDIR_FLAGS, flags) }
        case .counter:
            break
        case .reject(let type, let code):
            u32(NFTNL_EXPR_REJECT_TYPE, type)
            nftnl_expr_set_u8(e, UInt16(NFTNL_EXPR_REJECT_CODE), code)
        case .dynset(let op, let set, let key, let data, let timeout):
            u32(NFTNL_EXPR_DYNSET_SREG_KEY, key.rawValue)
            if let data { u32(NFTNL_EXPR_DYNSET_SREG_DATA, data.rawValue) }
            u32(NFTNL_EXPR_DYNSET_OP, op.rawValue)
            str(NFTNL_EXPR_DYNSET_SET_NAME, set)
            if let timeout { u64(NFTNL_EXPR_DYNSET_TIMEOUT, timeout.milliseconds) }
        case .fib(let flags, let result, let register):
            u32(NFTNL_EXPR_FIB_DREG, register.rawValue)
            u32(NFTNL_EXPR_FIB_RESULT, result)
            u32(NFTNL_EXPR_FIB_FLAGS, flags)
        case .limit(let rate, let perSeconds, let burst, let inverted):
            u64(NFTNL_EXPR_LIMIT_RATE, rate)
            u64(NFTNL_EXPR_LIMIT_UNIT, perSeconds)
            u32(NFTNL_EXPR_LIMIT_BURST, burst)
            u32(NFTNL_EXPR_LIMIT_TYPE, 0)  // NFT_LIMIT_PKTS
            u32(NFTNL_EXPR_LIMIT_FLAGS, inverted ? 1 : 0)  // NFT_LIMIT_F_INV
        }
        return e
    }
}
