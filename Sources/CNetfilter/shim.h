#ifndef SWIFT_KUBE_PROXY_CNETFILTER_H
#define SWIFT_KUBE_PROXY_CNETFILTER_H

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

#endif
