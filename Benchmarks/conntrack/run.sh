#!/bin/sh
# Conntrack cleanup at several table sizes: fills a test namespace's conntrack table with UDP entries
# (10 % stale), runs one cleanup, and prints time and peak RSS growth (streamed), next to the growth of
# collecting the whole table as the former cleanup did. Needs root and a test build
# (swift build --build-tests). Sizes must fit under net.netfilter.nf_conntrack_max, which this script
# never changes.
set -eu
cd "$(dirname "$0")/../.."
max=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
echo "nf_conntrack_max=$max"
for n in ${SIZES:-25000 100000 250000}; do
    if [ "$n" -ge "$max" ]; then echo "skip $n: over nf_conntrack_max"; continue; fi
    SKP_CT_ENTRIES=$n swift test --skip-build \
        --filter 'LargeTableNamespaceTests' 2>&1 | grep 'conntrack large table' || echo "run with $n entries failed"
done
