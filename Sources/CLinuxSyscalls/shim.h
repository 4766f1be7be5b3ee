#ifndef SWIFT_KUBE_PROXY_CLINUXSYSCALLS_H
#define SWIFT_KUBE_PROXY_CLINUXSYSCALLS_H

/* Swift's Glibc module leaves out epoll, eventfd and the GNU-only calls (splice, accept4, pipe2),
   so the userspace proxy reaches them through this header. The GNU calls go through syscall(2)
   because fcntl.h is already compiled without _GNU_SOURCE in the Glibc module. */

#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

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

#endif
