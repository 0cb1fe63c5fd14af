#!/usr/bin/env bash
# A/B of the turret's CPU per transaction (bench/turret-cpu.ts) between this tree and an older
# commit, alternated so both see the same machine noise: bash bench/turret-ab.sh [BASE] [RUNS]
# (default BASE e47c32b, the tree before the statistics engine; 4 runs of 3 rounds each).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
base="${1:-e47c32b}"
runs="${2:-4}"
source "$here/bench/base-tree.sh"
base_tree "$base"
for i in $(seq "$runs"); do
  for t in "$here" "$tree"; do
    echo "== run $i $( [ "$t" = "$here" ] && echo this || echo "$base" ) load $(cut -d' ' -f1 /proc/loadavg)"
    (cd "$here" && OCT_TREE="$t" node --import tsx bench/turret-cpu.ts)
  done
done
