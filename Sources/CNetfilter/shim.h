#ifndef SWIFT_KUBE_PROXY_CNETFILTER_H
#define SWIFT_KUBE_PROXY_CNETFILTER_H

/* glibc's socket headers first: linux/libc-compat.h then leaves struct in_addr / in6_addr to glibc,
 * so Swift sees one definition of each instead of two that conflict. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <sched.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

/* Function-like macros are not imported by Swift; these wrap the ones we use. */
static inline size_t cnf_mnl_socket_buffer_size(void) { return MNL_SOCKET_BUFFER_SIZE; }

/* setns(2) is declared by glibc only under _GNU_SOURCE, which Swift's Glibc module is not built
 * with; this is the same prototype. Enter the network namespace that `fd` refers to, on the
 * calling thread only. */
extern int setns(int fd, int nstype);
static inline int cnf_setns_net(int fd) { return setns(fd, 0x40000000 /* CLONE_NEWNET */); }

#endif
