import Glibc

// The conversions between our address values and the kernel's sockaddr structures. They need raw
// pointers (sockaddr is a C "base class" that in/in6 variants are cast to); this file and Socket.swift
// are the only places in the module that use them.

extension IPAddress {
    init?(presentation text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self = .v4(v4.s_addr)
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self = withUnsafeBytes(of: &v6) { .v6($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
            return
        }
        return nil
    }

    var presentation: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch self {
        case .v4(let raw):
            var a = in_addr(s_addr: raw)
            inet_ntop(AF_INET, &a, &text, socklen_t(text.count))
        case .v6(let high, let low):
            var a = in6_addr()
            withUnsafeMutableBytes(of: &a) {
                $0.storeBytes(of: high, as: UInt64.self)
                $0.storeBytes(of: low, toByteOffset: 8, as: UInt64.self)
            }
            inet_ntop(AF_INET6, &a, &text, socklen_t(text.count))
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    var family: Int32 { isIPv6 ? AF_INET6 : AF_INET }

    /// This address (port 0) as a sockaddr_storage, the form a datagram's source is handed over in.
    var socketAddressStorage: sockaddr_storage {
        var storage = sockaddr_storage()
        ProxyAddress(ip: self, port: 0).withSocketAddress { address, length in
            withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(length))) }
        }
        return storage
    }
}

extension ProxyAddress {
    /// Calls `body` with this address as a sockaddr (sockaddr_in or sockaddr_in6) and its length.
    func withSocketAddress<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch ip {
        case .v4(let raw):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr = in_addr(s_addr: raw)
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(let high, let low):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) {
                $0.storeBytes(of: high, as: UInt64.self)
                $0.storeBytes(of: low, toByteOffset: 8, as: UInt64.self)
            }
            return withUnsafePointer(to: &sin6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    /// The address the kernel filled into `storage` (from accept or recvfrom); nil for other families.
    init?(socketAddress storage: inout sockaddr_storage) {
        switch Int32(storage.ss_family) {
        case AF_INET:
            let sin = withUnsafeBytes(of: &storage) { $0.loadUnaligned(as: sockaddr_in.self) }
            self.init(ip: .v4(sin.sin_addr.s_addr), port: UInt16(bigEndian: sin.sin_port))
        case AF_INET6:
            let sin6 = withUnsafeBytes(of: &storage) { $0.loadUnaligned(as: sockaddr_in6.self) }
            let ip = withUnsafeBytes(of: sin6.sin6_addr) {
                IPAddress.v6($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            }
            self.init(ip: ip, port: UInt16(bigEndian: sin6.sin6_port))
        default:
            return nil
        }
    }
}

/// Calls `body` with storage for the kernel to write a peer address into, and its length.
func withPeerAddressStorage<R>(_ body: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> R) -> (R, ProxyAddress?) {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let result = withUnsafeMutablePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, &length) }
    }
    return (result, ProxyAddress(socketAddress: &storage))
}

/// Calls `body` with storage for a datagram's sender and for the address it was sent to.
func withDatagramAddressStorage<R>(
    _ body: (UnsafeMutablePointer<sockaddr_storage>, UnsafeMutablePointer<sockaddr_storage>) -> R
) -> (R, peer: ProxyAddress?, destination: IPAddress?) {
    var peer = sockaddr_storage(), destination = sockaddr_storage()
    let result = body(&peer, &destination)
    return (result, ProxyAddress(socketAddress: &peer), ProxyAddress(socketAddress: &destination)?.ip)
}
