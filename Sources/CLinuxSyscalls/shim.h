#ifndef SWIFT_KUBE_PROXY_CLINUXSYSCALLS_H
#define SWIFT_KUBE_PROXY_CLINUXSYSCALLS_H

/* Swift's Glibc module leaves out epoll, eventfd and the GNU-only calls (splice, accept4, pipe2),
   so the userspace proxy reaches them through this header. The GNU calls go through syscall(2)
   because fcntl.h is already compiled without _GNU_SOURCE in the Glibc module. Datagram I/O with
   control messages (IP_PKTINFO) is here too: its macros do not reach Swift. */

#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <string.h>

static inline long clinux_splice(int fd_in, int fd_out, size_t len, unsigned int flags) {
    return syscall(SYS_splice, fd_in, NULL, fd_out, NULL, len, flags);
}

static inline int clinux_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    return (int)syscall(SYS_accept4, fd, address, length, flags);
}

static inline int clinux_pipe2(int fds[2], int flags) {
    return (int)syscall(SYS_pipe2, fds, flags);
}

/* Number of CPUs this thread may run on (taskset / cgroup cpusets), 0 if unknown. */
static inline int clinux_allowed_cpu_count(void) {
    uint64_t mask[16] = {0};
    long bytes = syscall(SYS_sched_getaffinity, 0, sizeof(mask), mask);
    if (bytes <= 0) return 0;
    int count = 0;
    for (long i = 0; i < bytes / 8; i++) count += __builtin_popcountll(mask[i]);
    return count;
}

/* Asks EEVDF for a shorter time slice for the calling thread (sched_attr.sched_runtime, Linux
   6.12+), so its wakeups preempt batch work on the same core sooner. Same policy and weight.
   Returns 0 or -1 with errno. */
struct clinux_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
};

static inline int clinux_request_slice(uint64_t nanoseconds) {
    struct clinux_sched_attr attr = {0};
    attr.size = sizeof(attr);
    attr.sched_policy = 0; /* SCHED_OTHER */
    attr.sched_nice = 0;
    if (syscall(SYS_sched_getattr, 0, &attr, sizeof(attr), 0) != 0) return -1;
    attr.size = sizeof(attr);
    attr.sched_flags = 0;
    attr.sched_runtime = nanoseconds;
    return (int)syscall(SYS_sched_setattr, 0, &attr, 0);
}

/* UDP replies must leave with the source address the client's datagram was sent to: after an
   nftables `redirect` that is the address the kernel chose (the incoming interface's, or 127.0.0.1
   / ::1 for the node's own traffic), and conntrack only turns a reply back into the Service address
   when it comes from there. A wildcard-bound socket learns that address through IP_PKTINFO /
   IPV6_RECVPKTINFO and sets it per reply. The cmsg macros do not reach Swift, hence C. The structs
   mirror the kernel's (glibc shows in6_pktinfo only with _GNU_SOURCE). */
#ifndef IP_PKTINFO
#define IP_PKTINFO 8
#endif
#ifndef IPV6_RECVPKTINFO
#define IPV6_RECVPKTINFO 49
#endif
#ifndef IPV6_PKTINFO
#define IPV6_PKTINFO 50
#endif

struct clinux_in_pktinfo { int ifindex; struct in_addr spec_dst; struct in_addr addr; };
struct clinux_in6_pktinfo { struct in6_addr addr; unsigned int ifindex; };

/* Asks the kernel to report each datagram's destination address on `fd` (of `family`). */
static inline int clinux_report_destination_address(int fd, int family) {
    int one = 1;
    if (family == AF_INET6) return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
    return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
}

/* One datagram into `buffer`, its sender into `peer` and the address it was sent to into
   `destination` (ss_family 0 when the kernel reported none). Returns what recvmsg returns. */
static inline long clinux_receive_datagram(int fd, void *buffer, size_t length,
                                           struct sockaddr_storage *peer, struct sockaddr_storage *destination) {
    union { struct cmsghdr align; char bytes[CMSG_SPACE(sizeof(struct clinux_in6_pktinfo))]; } control;
    struct iovec iov = { buffer, length };
    struct msghdr message;
    memset(&message, 0, sizeof(message));
    memset(destination, 0, sizeof(*destination));
    message.msg_name = peer;
    message.msg_namelen = sizeof(*peer);
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.bytes;
    message.msg_controllen = sizeof(control.bytes);
    long n = recvmsg(fd, &message, 0);
    if (n < 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c != NULL; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct clinux_in_pktinfo info;
            memcpy(&info, CMSG_DATA(c), sizeof(info));
            struct sockaddr_in *sin = (struct sockaddr_in *)destination;
            sin->sin_family = AF_INET;
            sin->sin_addr = info.addr;
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct clinux_in6_pktinfo info;
            memcpy(&info, CMSG_DATA(c), sizeof(info));
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)destination;
            sin6->sin6_family = AF_INET6;
            sin6->sin6_addr = info.addr;
        }
    }
    return n;
}

/* Sends `buffer` to `to` from the source address in `source` (ss_family 0: the kernel picks, as
   sendto would). MSG_NOSIGNAL. Returns what sendmsg returns. */
static inline long clinux_send_datagram(int fd, const void *buffer, size_t length, const struct sockaddr *to,
                                        socklen_t to_length, const struct sockaddr_storage *source) {
    union { struct cmsghdr align; char bytes[CMSG_SPACE(sizeof(struct clinux_in6_pktinfo))]; } control;
    struct iovec iov = { (void *)buffer, length };
    struct msghdr message;
    memset(&message, 0, sizeof(message));
    memset(&control, 0, sizeof(control));
    message.msg_name = (void *)to;
    message.msg_namelen = to_length;
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    if (source->ss_family == AF_INET) {
        struct clinux_in_pktinfo info;
        memset(&info, 0, sizeof(info));
        info.spec_dst = ((const struct sockaddr_in *)source)->sin_addr;
        message.msg_control = control.bytes;
        message.msg_controllen = CMSG_SPACE(sizeof(info));
        struct cmsghdr *c = CMSG_FIRSTHDR(&message);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(info));
        memcpy(CMSG_DATA(c), &info, sizeof(info));
    } else if (source->ss_family == AF_INET6) {
        struct clinux_in6_pktinfo info;
        memset(&info, 0, sizeof(info));
        info.addr = ((const struct sockaddr_in6 *)source)->sin6_addr;
        message.msg_control = control.bytes;
        message.msg_controllen = CMSG_SPACE(sizeof(info));
        struct cmsghdr *c = CMSG_FIRSTHDR(&message);
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(info));
        memcpy(CMSG_DATA(c), &info, sizeof(info));
    }
    return sendmsg(fd, &message, MSG_NOSIGNAL);
}

#endif
