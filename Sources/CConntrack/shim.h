#ifndef SWIFT_KUBE_PROXY_CCONNTRACK_H
#define SWIFT_KUBE_PROXY_CCONNTRACK_H

/* libmnl and the ctnetlink ABI for Sources/Conntrack. Its own module rather than CNetfilter: glibc's
 * <netinet/in.h> must come before the kernel's <linux/in.h> (which libc-compat.h then skips), or
 * in_addr/sockaddr_in get two definitions and no Swift file can import both this and Glibc. */
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

/* setns(2) and CLONE_NEWNET: glibc declares them only under _GNU_SOURCE. */
int setns(int fd, int nstype);
static inline int ccon_clone_newnet(void) { return 0x40000000; /* CLONE_NEWNET */ }

#endif
