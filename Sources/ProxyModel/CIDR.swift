/// An address prefix such as `10.0.0.0/8` or `fd00::/64`.
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    /// Parses `a.b.c.d/n` or `x::/n`; a bare address is a host prefix (/32 or /128).
    /// The address is masked to the prefix, as Go's net.ParseCIDR does.
    public init?(_ text: some StringProtocol) {
        self.init(text, sloppy: false)
    }

    /// As kube-proxy's `netutils.ParseCIDRSloppy`: the address may have leading-zero IPv4 octets.
    public init?(sloppy text: some StringProtocol) {
        self.init(text, sloppy: true)
    }

    private init?(_ text: some StringProtocol, sloppy: Bool) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = sloppy ? IPAddress(sloppy: parts[0]) : IPAddress(parts[0]) else { return nil }
        let maxLength = address.isIPv4 ? 32 : 128
        var length = maxLength
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy(\.isASCIIDigit), let n = Int(parts[1]), n <= maxLength else {
                return nil
            }
            length = n
        }
        self.init(address: address, prefixLength: length)
    }

    public init(address: IPAddress, prefixLength: Int) {
        self.prefixLength = prefixLength
        self.address = CIDR.mask(address, prefixLength)
    }

    public var family: IPAddress.Family { address.family }

    public func contains(_ other: IPAddress) -> Bool {
        other.family == address.family && CIDR.mask(other, prefixLength) == address
    }

    public var description: String { "\(address)/\(prefixLength)" }

    private static func mask(_ a: IPAddress, _ length: Int) -> IPAddress {
        switch a.family {
        case .ipv4:
            let m: UInt32 = length == 0 ? 0 : ~0 << (32 - UInt32(length))
            return IPAddress(ipv4: a.ipv4Value & m)
        case .ipv6:
            let highMask: UInt64 = length >= 64 ? ~0 : (length == 0 ? 0 : ~0 << (64 - UInt64(length)))
            let lowMask: UInt64 = length <= 64 ? 0 : (length == 128 ? ~0 : ~0 << (128 - UInt64(length)))
            return IPAddress(ipv6High: a.high & highMask, low: a.low & lowMask)
        }
    }
}
