#!/usr/bin/env bash
# containerd's runc, for a host that withholds CAP_SYS_RESOURCE (as this workplace's sandbox does:
# CapEff lacks bit 24). kubelet asks for a negative oom_score_adj for pod sandboxes (-998) and
# Guaranteed pods (-997); lowering it below one's own needs that capability, so runc's nsexec fails
# ("failed to update /proc/self/oom_score_adj: Permission denied", then "can't get final child's PID
# from pipe: EOF") and no pod starts. Here a bundle's oomScoreAdj below ours is raised to ours before
# runc sees it. Nothing else changes; node.sh uses this only when the capability is missing.
set -euo pipefail
own=$(cat /proc/self/oom_score_adj)
bundle= prev=
for a in "$@"; do
  [[ $prev == --bundle || $prev == -b ]] && bundle=$a
  prev=$a
done
if [[ -n $bundle && -f $bundle/config.json ]]; then
  adj=$(grep -o '"oomScoreAdj":-\?[0-9]*' "$bundle/config.json" | head -1 | cut -d: -f2 || true)
  if [[ -n $adj ]] && ((adj < own)); then
    sed -i "s/\"oomScoreAdj\":$adj/\"oomScoreAdj\":$own/" "$bundle/config.json"
  fi
fi
exec runc "$@"
