import CNetfilter

/// A batch turned into netlink bytes, with the map from message sequence number back to the
/// command that produced the message (a rule with an anonymous set is three messages).
struct EncodedBatch {
    var bytes: BatchBytes
    var commandForSequence: [UInt32: Int]
    /// `NFT_MSG_*` type of each message between batch begin and end, in order (for tests).
    var messageTypes: [UInt16]
    /// Sequence number after the last one used.
    var nextSequence: UInt32
}

/// Encodes `NFTBatch`es into libnftnl objects and an mnl batch buffer.
///
/// This file, `NetlinkElementEncoder.swift`, `NetlinkExpressionEncoder.swift` and `Netlink.swift` are the module's only unsafe code: libnftnl objects are C heap
/// objects handled through opaque pointers, and libnftnl writes messages into a raw buffer that
/// libmnl's batch API hands out. Every object allocated here is freed before the function returns.
enum NetlinkBatchEncoder {
    /// Elements per `NEWSETELEM` message: keeps each message's nested element list well under the
    /// 64 KiB a netlink attribute length can express, even with long chain names.
    static let elementsPerMessage = 64
    /// Room past the batch limit for the one message that overflows it (see `mnl_nlmsg_batch_next`).
    static let overflowRoom = 1 << 20

    static func encode(_ batch: NFTBatch, firstSequence: UInt32) throws(NFTError) -> EncodedBatch {
        for (index, command) in batch.commands.enumerated() {
            if let reason = command.validationFailure {
                throw .invalidCommand(index: index, command: command.description, reason: reason)
            }
        }
        // Start at an upper bound of the batch's size, so it is encoded once: a retry re-encodes
        // everything before the overflow.
        var limit = max(1 << 16, estimatedSize(batch))
        while true {
            if let encoded = encode(batch, firstSequence: firstSequence, limit: limit) { return encoded }
            limit *= 2
        }
    }

    /// Bytes the batch takes, or more: elements counted one by one (they are most of a large batch),
    /// a rule as ~320 bytes (its anonymous set's elements on top).
    static func estimatedSize(_ batch: NFTBatch) -> Int {
        var size = 4096
        for command in batch.commands {
            switch command {
            case .addElements(let set, let elements), .deleteElements(let set, let elements), .destroyElements(let set, let elements):
                let perMessage = 64 + set.name.utf8.count + set.table.name.utf8.count
                size += (elements.count / elementsPerMessage + 1) * perMessage
                for i in elements.indices { size += ElementWriter.maximumSize(elements[i]) * (elements[i].keyEnd == nil ? 1 : 2) }
            case .addRule(let rule):
                size += 320 + 64 * rule.statements.count + (rule.comment?.utf8.count ?? 0)
                for statement in rule.statements {
                    for expression in statement.expressions {
                        guard case .lookup(.anonymous(let anonymous), _, _, _) = expression else { continue }
                        size += 256
                        for element in anonymous.elements { size += ElementWriter.maximumSize(element) * 2 }
                    }
                }
            default:
                size += 512
            }
        }
        return size
    }

    /// One attempt with a buffer of `limit` bytes; nil when the batch does not fit.
    private static func encode(_ batch: NFTBatch, firstSequence: UInt32, limit: Int) -> EncodedBatch? {
        // Handed to the result without a copy (64 MiB at 100,000 Services); pages past what is
        // written are never touched, so they cost address space, not memory.
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: limit + overflowRoom, alignment: 8)
        var handedOver = false
        defer { if !handedOver { buffer.deallocate() } }
        guard let mnlBatch = mnl_nlmsg_batch_start(buffer, limit) else { return nil }
        defer { mnl_nlmsg_batch_stop(mnlBatch) }

        var writer = MessageWriter(batch: mnlBatch, sequence: firstSequence)
        writer.write { buffer, sequence in _ = nftnl_batch_begin(buffer, sequence) }
        var state = EncoderState()
        for (index, command) in batch.commands.enumerated() {
            writer.commandIndex = index
            encode(command, into: &writer, state: &state)
            if writer.overflowed { return nil }
        }
        writer.commandIndex = nil
        writer.write { buffer, sequence in _ = nftnl_batch_end(buffer, sequence) }
        guard !writer.overflowed else { return nil }

        precondition(mnl_nlmsg_batch_head(mnlBatch) == buffer)
        handedOver = true
        return EncodedBatch(
            bytes: BatchBytes(buffer, count: mnl_nlmsg_batch_size(mnlBatch)),
            commandForSequence: writer.commandForSequence,
            messageTypes: writer.messageTypes,
            nextSequence: writer.sequence)
    }

    /// Set ids name sets created in this batch, so that rules and elements can refer to anonymous
    /// sets whose final name the kernel picks.
    private struct EncoderState {
        var nextSetID: UInt32 = 1
    }

    private static func encode(_ command: NFTCommand, into writer: inout MessageWriter, state: inout EncoderState) {
        let create = UInt16(NLM_F_CREATE)
        switch command {
        case .addTable(let table):
            withTable(table) { t in writer.message(NFT_MSG_NEWTABLE, table.family, flags: create) { nftnl_table_nlmsg_build_payload($0, t) } }
        case .deleteTable(let table):
            withTable(table) { t in writer.message(NFT_MSG_DELTABLE, table.family) { nftnl_table_nlmsg_build_payload($0, t) } }
        case .flushTable(let table):
            withRule(table: table, chain: nil) { rule in writer.message(NFT_MSG_DELRULE, table.family) { nlh in nftnl_rule_nlmsg_build_payload(nlh, rule) } }
        case .addChain(let chain):
            withChain(chain) { c in writer.message(NFT_MSG_NEWCHAIN, chain.table.family, flags: create) { nftnl_chain_nlmsg_build_payload($0, c) } }
        case .deleteChain(let chain):
            withChain(NFTChain(table: chain.table, name: chain.name)) { c in writer.message(NFT_MSG_DELCHAIN, chain.table.family) { nftnl_chain_nlmsg_build_payload($0, c) } }
        case .flushChain(let chain):
            withRule(table: chain.table, chain: chain.name) { rule in writer.message(NFT_MSG_DELRULE, chain.table.family) { nlh in nftnl_rule_nlmsg_build_payload(nlh, rule) } }
        case .addRule(let rule):
            encode(rule, into: &writer, state: &state)
        case .addSet(let set):
            let id = state.nextSetID
            state.nextSetID += 1
            withSet(set, id: id) { s in writer.message(NFT_MSG_NEWSET, set.table.family, flags: create) { nftnl_set_nlmsg_build_payload($0, s) } }
        case .deleteSet(let set):
            withSetHandle(table: set.table, name: set.name, id: nil) { s in writer.message(NFT_MSG_DELSET, set.table.family) { nftnl_set_nlmsg_build_payload($0, s) } }
        case .flushSet(let set):
            withSetHandle(table: set.table, name: set.name, id: nil) { s in writer.message(NFT_MSG_DELSETELEM, set.table.family) { nftnl_set_elems_nlmsg_build_payload($0, s) } }
        case .addElements(let set, let elements):
            encodeElements(elements, of: ElementLayout(set), table: set.table, setName: set.name, setID: nil, type: NFT_MSG_NEWSETELEM, flags: create, into: &writer)
        case .deleteElements(let set, let elements):
            encodeElements(elements, of: ElementLayout(set), table: set.table, setName: set.name, setID: nil, type: NFT_MSG_DELSETELEM, flags: 0, into: &writer)
        case .destroyElements(let set, let elements):
            encodeElements(elements, of: ElementLayout(set), table: set.table, setName: set.name, setID: nil, type: NFTSetElementDump.destroySetElement, flags: 0, into: &writer)
        }
    }

    // MARK: Rules

    private static func encode(_ rule: NFTRule, into writer: inout MessageWriter, state: inout EncoderState) {
        // Anonymous sets first: the kernel binds them to the rule that follows in the same batch.
        var anonymousIDs: [Int: UInt32] = [:]
        for (position, expression) in rule.expressions.enumerated() {
            guard case .lookup(.anonymous(let anonymous), _, _, _) = expression else { continue }
            let id = state.nextSetID
            state.nextSetID += 1
            anonymousIDs[position] = id
            let name = anonymous.mapping == nil ? "__set%d" : "__map%d"
            let set = NFTSet(table: rule.table, name: name, keyType: anonymous.keyType, mapping: anonymous.mapping,
                             flags: anonymous.isInterval ? [.constant, .interval] : [.constant])
            withSet(set, id: id, anonymous: true, size: anonymous.elements.count) { s in
                writer.message(NFT_MSG_NEWSET, rule.table.family, flags: UInt16(NLM_F_CREATE)) { nftnl_set_nlmsg_build_payload($0, s) }
            }
            encodeElements(anonymous.elements, of: ElementLayout(set), table: rule.table, setName: name, setID: id,
                           type: NFT_MSG_NEWSETELEM, flags: UInt16(NLM_F_CREATE), into: &writer)
        }

        guard let r = nftnl_rule_alloc() else { return }
        defer { nftnl_rule_free(r) }
        nftnl_rule_set_u32(r, attr(NFTNL_RULE_FAMILY), UInt32(rule.table.family.protocolFamily))
        nftnl_rule_set_str(r, attr(NFTNL_RULE_TABLE), rule.table.name)
        nftnl_rule_set_str(r, attr(NFTNL_RULE_CHAIN), rule.chain)
        for (position, expression) in rule.expressions.enumerated() {
            if let e = makeExpression(expression, anonymousSetID: anonymousIDs[position]) {
                nftnl_rule_add_expr(r, e)  // the rule owns it from here
            }
        }
        if let userdata = rule.userdata {
            userdata.withUnsafeBytes { _ = nftnl_rule_set_data(r, attr(NFTNL_RULE_USERDATA), $0.baseAddress, UInt32($0.count)) }
        }
        writer.message(NFT_MSG_NEWRULE, rule.table.family, flags: UInt16(NLM_F_CREATE | NLM_F_APPEND)) { nftnl_rule_nlmsg_build_payload($0, r) }
    }

    // MARK: Sets and elements

    /// What the encoder needs to know about a set to lay out its elements.
    struct ElementLayout {
        var isInterval: Bool
        var isConcatenation: Bool

        init(_ set: NFTSet) {
            isInterval = set.flags.contains(.interval)
            isConcatenation = set.keyType.isConcatenation
        }
    }

    /// The kernel elements for one element of ours. A range in a plain interval set (rbtree) is two
    /// elements: the start, and an `NFT_SET_ELEM_INTERVAL_END` element one past the last value
    /// (left out when the range reaches the top). A concatenation carries `KEY_END` inclusively.
    struct KernelElement: Equatable {
        var key: NFTValue
        var keyEnd: NFTValue?
        var isIntervalEnd: Bool
        var value: NFTSetElement.Value?
        var timeout: Duration?
        var userdata: [UInt8]?
    }

    static func kernelElements(for element: NFTSetElement, layout: ElementLayout) -> [KernelElement] {
        var result: [KernelElement] = []
        forEachKernelElement(of: [element], at: 0, layout: layout) { k in
            if let end = k.intervalEnd {
                result.append(KernelElement(key: end, isIntervalEnd: true))
            } else {
                result.append(KernelElement(key: element.key, keyEnd: k.keyEnd, isIntervalEnd: false, value: element.value,
                                            timeout: element.timeout, userdata: element.userdata))
            }
        }
        return result
    }

    /// Calls `body` with each kernel element of `elements[index]`, without building them (a full
    /// sync has millions, and each copy of an element is several retains).
    @inline(__always)
    static func forEachKernelElement(of elements: [NFTSetElement], at index: Int, layout: ElementLayout, _ body: (KernelElementRef) -> Void) {
        guard layout.isInterval, let last = elements[index].keyEnd else {
            body(KernelElementRef(index: index, keyEnd: nil, intervalEnd: nil))
            return
        }
        if layout.isConcatenation {
            body(KernelElementRef(index: index, keyEnd: last, intervalEnd: nil))
            return
        }
        body(KernelElementRef(index: index, keyEnd: nil, intervalEnd: nil))
        if let end = last.successor { body(KernelElementRef(index: index, keyEnd: nil, intervalEnd: end)) }
    }

    /// One kernel element: the element of ours at `index`, or (`intervalEnd`) the "interval end"
    /// element after it, which has only that key and the end flag.
    struct KernelElementRef {
        var index: Int
        var keyEnd: NFTValue?
        var intervalEnd: NFTValue?
    }

    /// Element messages written straight into the batch with libmnl, laid out attribute for
    /// attribute as `nftnl_set_elems_nlmsg_build_payload` lays them out (the encoder tests compare
    /// the two): a libnftnl element object per element cost four allocations and a copy of every
    /// key, which at 100,000 Services was most of a full sync's user time.
    private static func encodeElements(
        _ elements: [NFTSetElement], of layout: ElementLayout, table: NFTTable, setName: String, setID: UInt32?,
        type: nf_tables_msg_types, flags: UInt16, into writer: inout MessageWriter
    ) {
        guard !elements.isEmpty else { return }
        var pending: [KernelElementRef] = []
        pending.reserveCapacity(elementsPerMessage)
        var userdata: [UInt8] = []
        userdata.reserveCapacity(132)
        func flush() {
            guard !pending.isEmpty else { return }
            writer.message(type, table.family, flags: flags) { nlh in
                ElementWriter.header(nlh, table: table.name, set: setName, id: setID)
                let list = mnl_attr_nest_start(nlh, UInt16(NFTA_SET_ELEM_LIST_ELEMENTS.rawValue))
                for (position, kernel) in pending.enumerated() {
                    ElementWriter.element(nlh, elements, kernel, index: position + 1, userdata: &userdata)
                }
                mnl_attr_nest_end(nlh, list)
            }
            pending.removeAll(keepingCapacity: true)
        }
        for index in elements.indices {
            if writer.overflowed { return }
            forEachKernelElement(of: elements, at: index, layout: layout) { kernel in
                pending.append(kernel)
                if pending.count == elementsPerMessage { flush() }
            }
        }
        flush()
    }

    private static func withSet(_ set: NFTSet, id: UInt32, anonymous: Bool = false, size: Int? = nil, _ body: (OpaquePointer) -> Void) {
        withSetHandle(table: set.table, name: set.name, id: id) { s in
            var flags = set.kernelFlags
            if anonymous { flags |= 0x1 }  // NFT_SET_ANONYMOUS
            nftnl_set_set_u32(s, attr(NFTNL_SET_FLAGS), flags)
            nftnl_set_set_u32(s, attr(NFTNL_SET_KEY_TYPE), set.keyType.typeID)
            nftnl_set_set_u32(s, attr(NFTNL_SET_KEY_LEN), UInt32(set.keyType.length))
            switch set.mapping {
            case .verdict:
                nftnl_set_set_u32(s, attr(NFTNL_SET_DATA_TYPE), 0xffff_ff00)  // NFT_DATA_VERDICT
                nftnl_set_set_u32(s, attr(NFTNL_SET_DATA_LEN), 0)
            case .data(let type):
                nftnl_set_set_u32(s, attr(NFTNL_SET_DATA_TYPE), type.typeID)
                nftnl_set_set_u32(s, attr(NFTNL_SET_DATA_LEN), UInt32(type.length))
            case nil:
                break
            }
            if let timeout = set.timeout { nftnl_set_set_u64(s, attr(NFTNL_SET_TIMEOUT), timeout.milliseconds) }
            if let size = size ?? set.size { nftnl_set_set_u32(s, attr(NFTNL_SET_DESC_SIZE), UInt32(size)) }
            if set.flags.contains(.interval) && set.keyType.isConcatenation {
                // libnftnl copies the field lengths and counts them up to the first zero.
                let lengths = set.keyType.fieldLengths.map { UInt8($0) }
                lengths.withUnsafeBytes { _ = nftnl_set_set_data(s, attr(NFTNL_SET_DESC_CONCAT), $0.baseAddress, UInt32($0.count)) }
            }
            do {
                set.userdata.withUnsafeBytes { _ = nftnl_set_set_data(s, attr(NFTNL_SET_USERDATA), $0.baseAddress, UInt32($0.count)) }
            }
            body(s)
        }
    }

    private static func withSetHandle(table: NFTTable, name: String, id: UInt32?, _ body: (OpaquePointer) -> Void) {
        guard let s = nftnl_set_alloc() else { return }
        defer { nftnl_set_free(s) }
        nftnl_set_set_u32(s, attr(NFTNL_SET_FAMILY), UInt32(table.family.protocolFamily))
        nftnl_set_set_str(s, attr(NFTNL_SET_TABLE), table.name)
        nftnl_set_set_str(s, attr(NFTNL_SET_NAME), name)
        if let id { nftnl_set_set_u32(s, attr(NFTNL_SET_ID), id) }
        body(s)
    }

    // MARK: Tables and chains

    private static func withTable(_ table: NFTTable, _ body: (OpaquePointer) -> Void) {
        guard let t = nftnl_table_alloc() else { return }
        defer { nftnl_table_free(t) }
        nftnl_table_set_u32(t, attr(NFTNL_TABLE_FAMILY), UInt32(table.family.protocolFamily))
        nftnl_table_set_str(t, attr(NFTNL_TABLE_NAME), table.name)
        body(t)
    }

    private static func withChain(_ chain: NFTChain, _ body: (OpaquePointer) -> Void) {
        guard let c = nftnl_chain_alloc() else { return }
        defer { nftnl_chain_free(c) }
        nftnl_chain_set_u32(c, attr(NFTNL_CHAIN_FAMILY), UInt32(chain.table.family.protocolFamily))
        nftnl_chain_set_str(c, attr(NFTNL_CHAIN_TABLE), chain.table.name)
        nftnl_chain_set_str(c, attr(NFTNL_CHAIN_NAME), chain.name)
        if let hook = chain.hook {
            nftnl_chain_set_u32(c, attr(NFTNL_CHAIN_HOOKNUM), hook.point.rawValue)
            nftnl_chain_set_s32(c, attr(NFTNL_CHAIN_PRIO), hook.priority)
            nftnl_chain_set_str(c, attr(NFTNL_CHAIN_TYPE), hook.type.rawValue)
            nftnl_chain_set_u32(c, attr(NFTNL_CHAIN_POLICY), hook.policy.rawValue)
        }
        body(c)
    }

    private static func withRule(table: NFTTable, chain: String?, _ body: (OpaquePointer) -> Void) {
        guard let r = nftnl_rule_alloc() else { return }
        defer { nftnl_rule_free(r) }
        nftnl_rule_set_u32(r, attr(NFTNL_RULE_FAMILY), UInt32(table.family.protocolFamily))
        nftnl_rule_set_str(r, attr(NFTNL_RULE_TABLE), table.name)
        if let chain { nftnl_rule_set_str(r, attr(NFTNL_RULE_CHAIN), chain) }
        body(r)
    }
}

/// The bytes of an encoded batch, in the buffer they were written to; freed with the last reference.
final class BatchBytes {
    private let start: UnsafeMutableRawPointer
    let count: Int

    init(_ start: UnsafeMutableRawPointer, count: Int) {
        self.start = start
        self.count = count
    }

    deinit { start.deallocate() }

    subscript(offset: Int) -> UInt8 {
        precondition(offset >= 0 && offset < count)
        return start.load(fromByteOffset: offset, as: UInt8.self)
    }

    func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: start, count: count))
    }
}

/// Appends messages to an mnl batch, numbering them and remembering which command each belongs to.
private struct MessageWriter {
    let batch: OpaquePointer
    var sequence: UInt32
    var commandIndex: Int?
    var commandForSequence: [UInt32: Int] = [:]
    var messageTypes: [UInt16] = []
    var overflowed = false

    init(batch: OpaquePointer, sequence: UInt32) {
        self.batch = batch
        self.sequence = sequence
    }

    /// Writes one message at the batch's current position with `build(buffer, sequence)`.
    mutating func write(_ build: (UnsafeMutablePointer<CChar>, UInt32) -> Void) {
        guard !overflowed else { return }
        let current = mnl_nlmsg_batch_current(batch)!.assumingMemoryBound(to: CChar.self)
        build(current, sequence)
        if let commandIndex { commandForSequence[sequence] = commandIndex }
        sequence &+= 1
        if !mnl_nlmsg_batch_next(batch) { overflowed = true }
    }

    /// An nf_tables message of `type`, acknowledged (`NLM_F_ACK`) so that every command's outcome
    /// is reported, with its payload written by `payload`.
    mutating func message(
        _ type: nf_tables_msg_types, _ family: NFTFamily, flags: UInt16 = 0,
        payload: (UnsafeMutablePointer<nlmsghdr>) -> Void
    ) {
        let messageType = UInt16(type.rawValue)
        messageTypes.append(messageType)
        write { buffer, sequence in
            let nlh = nftnl_nlmsg_build_hdr(buffer, messageType, UInt16(family.protocolFamily), flags | UInt16(NLM_F_ACK), sequence)!
            payload(nlh)
        }
    }
}

/// libnftnl attribute numbers come in as C enum structs; its setters take them as `uint16_t`.
private func attr<E: RawRepresentable>(_ value: E) -> UInt16 where E.RawValue: BinaryInteger {
    UInt16(value.rawValue)
}
