import CNetfilter
#if canImport(Glibc)
import Glibc
#endif

/// A `NETLINK_NETFILTER` socket, optionally opened inside another network namespace, and the
/// request/acknowledgement exchange over it.
///
/// With `NetlinkBatchEncoder.swift`, this is the module's unsafe code: libmnl hands out raw
/// buffers and netlink replies are C structs read in place. Not thread-safe on its own;
/// `NFTConnection` serialises access.
final class NetlinkSocket {
    private let socket: OpaquePointer
    let portID: UInt32
    private var receiveBuffer: UnsafeMutableRawBufferPointer
    private var sendBufferSize = 0
    private var receiveBufferSize = 0

    /// Opens a socket in the current network namespace, or in the one at `namespacePath`
    /// (`/run/netns/NAME`, `/proc/PID/ns/net`).
    init(namespacePath: String?) throws(NFTError) {
        let opened: OpaquePointer?
        if let namespacePath {
            opened = try Self.inNetworkNamespace(namespacePath) { mnl_socket_open(NETLINK_NETFILTER) }
        } else {
            opened = mnl_socket_open(NETLINK_NETFILTER)
        }
        guard let opened else { throw .system(operation: "mnl_socket_open(NETLINK_NETFILTER)", errno: errno) }
        guard mnl_socket_bind(opened, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let code = errno
            mnl_socket_close(opened)
            throw .system(operation: "mnl_socket_bind", errno: code)
        }
        socket = opened
        portID = mnl_socket_get_portid(opened)
        // Error acknowledgements carry only the failed message's header, not its whole payload.
        var on: Int32 = 1
        _ = mnl_socket_setsockopt(opened, NETLINK_CAP_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        receiveBuffer = .allocate(byteCount: 1 << 17, alignment: 8)
    }

    deinit {
        mnl_socket_close(socket)
        receiveBuffer.deallocate()
    }

    /// Runs `body` with the calling thread inside the network namespace at `path`, then moves the
    /// thread back.
    ///
    /// `setns(CLONE_NEWNET)` changes the namespace of the calling *thread* only, and a socket keeps
    /// the namespace it was created in for its whole life. So the switch, the socket creation and
    /// the switch back must all happen on one thread: this function is synchronous and `body` is
    /// not `async`, so there is no suspension point at which Swift concurrency could move us to
    /// another thread (leaving a pool thread in the wrong namespace and us in the original one).
    static func inNetworkNamespace<T>(_ path: String, _ body: () -> T) throws(NFTError) -> T {
        let target = open(path, O_RDONLY | O_CLOEXEC)
        guard target >= 0 else { throw .system(operation: "open \(path)", errno: errno) }
        defer { close(target) }
        let original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else { throw .system(operation: "open /proc/thread-self/ns/net", errno: errno) }
        defer { close(original) }
        guard cnf_setns_net(target) == 0 else { throw .system(operation: "setns \(path)", errno: errno) }
        let result = body()
        // A thread left in the wrong namespace would silently program it from then on.
        precondition(cnf_setns_net(original) == 0, "cannot return to the original network namespace: errno \(errno)")
        return result
    }

    /// Makes the kernel-side buffers big enough for a batch of `bytes` and `acknowledgements`
    /// replies: nf_tables queues every acknowledgement before `sendmsg` returns, and drops those
    /// that do not fit. An acknowledgement costs well under 1 KiB of buffer and the kernel doubles
    /// the size we ask for, so 1 KiB each leaves room. (`*BUFFORCE` needs CAP_NET_ADMIN, which
    /// programming nf_tables needs anyway; without it the plain option is capped by sysctl.)
    func reserve(sendBytes bytes: Int, acknowledgements: Int) {
        let send = bytes + 4096
        if send > sendBufferSize {
            setBuffer(SO_SNDBUFFORCE, SO_SNDBUF, send)
            sendBufferSize = send
        }
        let receive = max(1 << 18, acknowledgements * 1024)
        if receive > receiveBufferSize {
            setBuffer(SO_RCVBUFFORCE, SO_RCVBUF, receive)
            receiveBufferSize = receive
        }
    }

    private func setBuffer(_ forced: Int32, _ plain: Int32, _ size: Int) {
        var value = Int32(clamping: size)
        let fd = mnl_socket_get_fd(socket)
        if setsockopt(fd, SOL_SOCKET, forced, &value, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, plain, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    func send(_ bytes: [UInt8]) throws(NFTError) {
        try checkSent(bytes.withUnsafeBytes { mnl_socket_sendto(socket, $0.baseAddress, $0.count) }, of: bytes.count)
    }

    func send(_ bytes: BatchBytes) throws(NFTError) {
        try checkSent(bytes.withUnsafeBytes { mnl_socket_sendto(socket, $0.baseAddress, $0.count) }, of: bytes.count)
    }

    private func checkSent(_ sent: Int, of count: Int) throws(NFTError) {
        guard sent == count else { throw .system(operation: "sendto netlink", errno: sent < 0 ? errno : EMSGSIZE) }
    }

    /// One reply message: its type, sequence number, the error code of an `NLMSG_ERROR`
    /// (0 for an acknowledgement), and the header itself for parsing, valid only during the call.
    struct Reply {
        var type: UInt16
        var sequence: UInt32
        var error: Int32
        var header: UnsafePointer<nlmsghdr>

        var isError: Bool { type == UInt16(NLMSG_ERROR) }
        var isDone: Bool { type == UInt16(NLMSG_DONE) }
    }

    /// Reads replies until `handle` returns false; throws if none arrives within `timeout` ms.
    func receive(timeout: Int32 = 5000, _ handle: (Reply) throws(NFTError) -> Bool) throws(NFTError) {
        let fd = mnl_socket_get_fd(socket)
        while true {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, timeout)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { throw .system(operation: "waiting for netlink replies", errno: ready == 0 ? ETIMEDOUT : errno) }
            let received = mnl_socket_recvfrom(socket, receiveBuffer.baseAddress, receiveBuffer.count)
            guard received > 0 else { throw .system(operation: "recvfrom netlink", errno: received < 0 ? errno : EIO) }
            var remaining = Int32(received)
            var header = receiveBuffer.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)
            while mnl_nlmsg_ok(header, remaining) {
                var error: Int32 = 0
                if header.pointee.nlmsg_type == UInt16(NLMSG_ERROR) {
                    // struct nlmsgerr { int error; struct nlmsghdr msg; }: a negative errno, or 0.
                    error = -mnl_nlmsg_get_payload(header).load(as: Int32.self)
                }
                let reply = Reply(type: header.pointee.nlmsg_type, sequence: header.pointee.nlmsg_seq, error: error, header: UnsafePointer(header))
                guard try handle(reply) else { return }
                header = mnl_nlmsg_next(header, &remaining)
            }
        }
    }

    /// Sends one request (built into a fresh buffer by `build`) and hands each reply for it to
    /// `each`, until the dump ends or the request is acknowledged. Throws the request's error.
    func request(
        _ description: String, type: nf_tables_msg_types, family: NFTFamily, flags: Int32, sequence: UInt32,
        build: (UnsafeMutablePointer<nlmsghdr>) -> Void, each: (UnsafePointer<nlmsghdr>) -> Void
    ) throws(NFTError) {
        var buffer = [UInt8](repeating: 0, count: 8192)
        let length = buffer.withUnsafeMutableBytes { raw -> Int in
            let nlh = nftnl_nlmsg_build_hdr(raw.baseAddress!.assumingMemoryBound(to: CChar.self), UInt16(type.rawValue),
                                            UInt16(family.protocolFamily), UInt16(flags), sequence)!
            build(nlh)
            return Int(nlh.pointee.nlmsg_len)
        }
        try send(Array(buffer.prefix(length)))
        var failure: Int32 = 0
        try receive { reply in
            guard reply.sequence == sequence else { return true }
            if reply.isDone { return false }
            if reply.isError {
                failure = reply.error
                return false
            }
            each(reply.header)
            return true
        }
        if failure != 0 { throw .system(operation: description, errno: failure) }
    }
}

extension NetlinkSocket {
    /// The names of chains and named sets of `table`, or nil if there is no such table. Reads only
    /// that table: a table lookup, then chain and set dumps filtered by table name.
    func contents(of table: NFTTable, sequence: inout UInt32) throws(NFTError) -> NFTTableContents? {
        func next() -> UInt32 { defer { sequence &+= 1 }; return sequence }
        do throws(NFTError) {
            try request("get table \(table)", type: NFT_MSG_GETTABLE, family: table.family, flags: NLM_F_REQUEST | NLM_F_ACK, sequence: next(),
                        build: { nlh in Self.withTableHandle(table) { nftnl_table_nlmsg_build_payload(nlh, $0) } },
                        each: { _ in })
        } catch .system(_, let code) where code == ENOENT {
            return nil
        }

        var chains: [String] = []
        try request("list chains \(table)", type: NFT_MSG_GETCHAIN, family: table.family, flags: NLM_F_REQUEST | NLM_F_DUMP, sequence: next(),
                    build: { nlh in
                        guard let c = nftnl_chain_alloc() else { return }
                        defer { nftnl_chain_free(c) }
                        nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_TABLE.rawValue), table.name)
                        nftnl_chain_nlmsg_build_payload(nlh, c)
                    },
                    each: { nlh in
                        guard let c = nftnl_chain_alloc() else { return }
                        defer { nftnl_chain_free(c) }
                        guard nftnl_chain_nlmsg_parse(nlh, c) >= 0,
                              let tableName = nftnl_chain_get_str(c, UInt16(NFTNL_CHAIN_TABLE.rawValue)),
                              String(cString: tableName) == table.name,
                              let name = nftnl_chain_get_str(c, UInt16(NFTNL_CHAIN_NAME.rawValue)) else { return }
                        chains.append(String(cString: name))
                    })

        var sets: [String] = []
        try request("list sets \(table)", type: NFT_MSG_GETSET, family: table.family, flags: NLM_F_REQUEST | NLM_F_DUMP, sequence: next(),
                    build: { nlh in
                        guard let s = nftnl_set_alloc() else { return }
                        defer { nftnl_set_free(s) }
                        nftnl_set_set_str(s, UInt16(NFTNL_SET_TABLE.rawValue), table.name)
                        nftnl_set_nlmsg_build_payload(nlh, s)
                    },
                    each: { nlh in
                        guard let s = nftnl_set_alloc() else { return }
                        defer { nftnl_set_free(s) }
                        guard nftnl_set_nlmsg_parse(nlh, s) >= 0,
                              let tableName = nftnl_set_get_str(s, UInt16(NFTNL_SET_TABLE.rawValue)),
                              String(cString: tableName) == table.name,
                              nftnl_set_get_u32(s, UInt16(NFTNL_SET_FLAGS.rawValue)) & 0x1 == 0,  // not NFT_SET_ANONYMOUS
                              let name = nftnl_set_get_str(s, UInt16(NFTNL_SET_NAME.rawValue)) else { return }
                        sets.append(String(cString: name))
                    })
        return NFTTableContents(table: table, chains: chains, sets: sets)
    }

    private static func withTableHandle(_ table: NFTTable, _ body: (OpaquePointer) -> Void) {
        guard let t = nftnl_table_alloc() else { return }
        defer { nftnl_table_free(t) }
        nftnl_table_set_u32(t, UInt16(NFTNL_TABLE_FAMILY.rawValue), UInt32(table.family.protocolFamily))
        nftnl_table_set_str(t, UInt16(NFTNL_TABLE_NAME.rawValue), table.name)
        body(t)
    }
}
