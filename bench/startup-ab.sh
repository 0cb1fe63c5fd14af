#!/usr/bin/env bash
# A/B of a whole `oct run demo --run-time 1` (the scaffolded demo, embedded database) between this
# tree and an older commit, alternated so both see the same machine noise; each run's wall time and
# the CPU of the run and every process it waited for (bash's `time`: user + sys of the children).
# One cold run per tree first (builds, PGlite template), not counted. Run alone:
#   bash bench/startup-ab.sh [BASE] [RUNS]     (default BASE 73ebb7a, 6 runs each)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
base="${1:-73ebb7a}"
runs="${2:-6}"
source "$here/bench/base-tree.sh"
base_tree "$base"
for t in "$here" "$tree"; do
  mkdir -p "$work/$(basename "$t")"
  (cd "$work/$(basename "$t")" && node "$t/bin/oct.js" new-project demo >/dev/null && node "$t/bin/oct.js" run demo --run-time 1 >/dev/null 2>&1)
done
TIMEFORMAT='%R %U %S'
one() { # tree → "wall cpu"
  local dir="$work/$(basename "$1")" out
  out="$( { time (cd "$dir" && node "$1/bin/oct.js" run demo --run-time 1 >/dev/null 2>&1); } 2>&1 )"
  awk '{ printf "%.2f %.2f\n", $1, $2 + $3 }' <<<"$out"
}
declare -a wa ca wb cb
for i in $(seq "$runs"); do
  read -r w c < <(one "$here"); wa+=("$w"); ca+=("$c")
  read -r w c < <(one "$tree"); wb+=("$w"); cb+=("$c")
  echo "run $i: this wall ${wa[-1]} s cpu ${ca[-1]} s | $base wall ${wb[-1]} s cpu ${cb[-1]} s | load $(cut -d' ' -f1 /proc/loadavg)"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2 }'; }
ma=$(median "${ca[@]}"); mb=$(median "${cb[@]}"); wma=$(median "${wa[@]}"); wmb=$(median "${wb[@]}")
echo "median CPU: this $ma s, $base $mb s, ratio $(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.2f", a / b }')"
echo "median wall: this $wma s, $base $wmb s, ratio $(awk -v a="$wma" -v b="$wmb" 'BEGIN { printf "%.2f", a / b }')"
