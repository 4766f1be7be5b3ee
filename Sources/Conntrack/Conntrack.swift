import Glibc
import ProxyModel
import Synchronization

/// The kernel's connection-tracking table through ctnetlink: list entries and delete those that
/// match filters (kube-proxy's conntrack cleanup: dump, match in userspace, delete each by its tuple).
public final class Conntrack: Sendable {
    private let socket: NetlinkSocket
    /// The last sequence number; held for the whole request, so one request runs at a time.
    private let sequence: Mutex<UInt32>

    /// A socket in the current network namespace, or in `/run/netns/<networkNamespace>`.
    public init(networkNamespace: String? = nil) throws(ConntrackError) {
        let s = try NetlinkSocket(networkNamespace: networkNamespace)
        socket = s
        sequence = Mutex(UInt32.random(in: 1...1_000_000))
    }

    /// Every entry of `family`.
    public func flows(family: IPAddress.Family) throws(ConntrackError) -> [ConntrackFlow] {
        try withSocket { s, seq throws(ConntrackError) in
            try s.request(CTNetlinkMessage.dumpRequest(family: family, sequence: seq), sequence: seq)
                .compactMap(CTNetlinkMessage.decodeFlow)
        }
    }

    /// Deletes every entry matching any of `filters`; returns how many were deleted. An entry that
    /// disappeared between the dump and its deletion (it expired) is not an error.
    @discardableResult
    public func delete(matching filters: [ConntrackFilter]) throws(ConntrackError) -> Int {
        var deleted = 0
        for family in [IPAddress.Family.ipv4, .ipv6] {
            let wanted = filters.filter { $0.family == family }
            if wanted.isEmpty { continue }
            for flow in try flows(family: family) where wanted.contains(where: { $0.matches(flow) }) {
                do {
                    try withSocket { s, seq throws(ConntrackError) in
                        _ = try s.request(CTNetlinkMessage.deleteRequest(flow, sequence: seq), sequence: seq)
                    }
                    deleted += 1
                } catch .netlink(ENOENT) {
                    continue
                }
            }
        }
        return deleted
    }

    private func withSocket<T: Sendable>(_ body: (NetlinkSocket, UInt32) throws(ConntrackError) -> T) throws(ConntrackError) -> T {
        try sequence.withLock { sequence throws(ConntrackError) -> T in
            sequence &+= 1
            return try body(socket, sequence)
        }
    }
}
