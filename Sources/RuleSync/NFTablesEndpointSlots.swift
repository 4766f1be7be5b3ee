import ProxyModel

/// Where each endpoint-choice chain keeps its endpoints: a block of keys `base ..< base + capacity`
/// in one of the `service-endpoints-N` maps, read by `numgen inc mod COUNT offset base map @…`.
///
/// A block keeps its place while the chain's endpoint count fits in it, so an endpoint replaced
/// (or added within the capacity) changes map elements only, never the rule that points at it.
/// Capacities are powers of two, and freed blocks are reused by the next chain of that size.
///
/// The maps are shards of `chainsPerMap` chains each, because the kernel's cost is quadratic on
/// both sides: every element added to a map is checked against every rule bound to it, and every
/// set is found by walking the table's list of sets. A set per chain pays the second, one map for
/// all pays the first; a hundred-odd chains per map keeps both small at 10,000 Services.
///
/// A full sync starts from a fresh allocation (it rewrites every rule anyway).
public struct NFTablesEndpointSlots: Sendable, Hashable {
    /// The chain a block belongs to: a Service port's cluster-policy or local-policy choice.
    public struct Owner: Sendable, Hashable {
        public var service: ServicePortName
        public var local: Bool

        public init(service: ServicePortName, local: Bool) {
            self.service = service
            self.local = local
        }
    }

    public struct Block: Sendable, Hashable {
        public var map: Int
        public var base: UInt32
        public var capacity: UInt32
    }

    public static let chainsPerMap = 128

    public private(set) var blocks: [Owner: Block] = [:]
    /// Maps opened so far (`service-endpoints-0` …); they stay until the next full sync.
    public var mapCount: Int { maps.count }
    /// Per map: its live blocks, and the first key never handed out.
    private struct MapUse: Sendable, Hashable {
        var chains = 0
        var nextKey: UInt64 = 0
    }
    private var maps: [MapUse] = []
    private var free: [UInt32: [Block]] = [:]  // capacity -> freed blocks

    public init() {}

    /// The block for `owner` with room for `count` endpoints: its current one if that fits,
    /// otherwise a new one (the old one is freed). Nil beyond 2^24 endpoints, more than a block may hold.
    public mutating func block(for owner: Owner, endpoints count: Int) -> Block? {
        let needed = UInt32(clamping: max(count, 1))
        if let current = blocks[owner] {
            if needed <= current.capacity { return current }
            release(owner)
        }
        guard needed <= 1 << 24 else { return nil }  // more endpoints than a map's key space holds
        let capacity = needed <= 1 ? 1 : UInt32(1) << (32 - (needed - 1).leadingZeroBitCount)
        let block: Block
        if let reused = free[capacity]?.popLast() {
            block = reused
        } else {
            let roomInNewest = maps.last.map { $0.chains < Self.chainsPerMap && $0.nextKey + UInt64(capacity) <= UInt64(UInt32.max) } ?? false
            if !roomInNewest { maps.append(MapUse()) }
            let map = maps.count - 1
            block = Block(map: map, base: UInt32(maps[map].nextKey), capacity: capacity)
            maps[map].nextKey += UInt64(capacity)
        }
        maps[block.map].chains += 1
        blocks[owner] = block
        return block
    }

    /// Frees the block of `owner`, if it has one.
    public mutating func release(_ owner: Owner) {
        guard let block = blocks.removeValue(forKey: owner) else { return }
        maps[block.map].chains -= 1
        free[block.capacity, default: []].append(block)
    }

    /// Frees both blocks of a Service port.
    public mutating func release(_ service: ServicePortName) {
        release(Owner(service: service, local: false))
        release(Owner(service: service, local: true))
    }
}
