#!/usr/bin/env bash
# Hash throughput of `supervisor run hash` next to `xargs -P2 md5sum` on the same warm tree.
#
#   scripts/bench-hash.sh TREE [RUNS]
#
# Runs are alternated A/B after a warm-up that fills the page cache; prints each time and the
# medians, MB/s and files/s.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tree=${1:?usage: scripts/bench-hash.sh TREE [RUNS]}
runs=${2:-5}
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin=$root/target/release/supervisor
workers=$(nproc)

bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
files=$(find "$tree" -type f | wc -l)
find "$tree" -type f -print0 | xargs -0 cat >/dev/null   # warm the cache

now() { date +%s.%N; }
declare -a a b
for i in $(seq 1 "$runs"); do
    t0=$(now); "$bin" run -w "$workers" -q --format sums hash "$tree" >/dev/null; t1=$(now)
    find "$tree" -type f -print0 | xargs -0 -P"$workers" -n256 md5sum >/dev/null; t2=$(now)
    a+=("$(echo "$t1 - $t0" | bc)"); b+=("$(echo "$t2 - $t1" | bc)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ma=$(median "${a[@]}"); mb=$(median "${b[@]}")
echo "tree: $files files, $bytes bytes, $workers workers, $runs runs each"
printf 'supervisor run hash (md5):      %s  median %.3f s  %.0f MB/s  %.0f files/s\n' "${a[*]}" "$ma" "$(echo "$bytes/$ma/1000000" | bc -l)" "$(echo "$files/$ma" | bc -l)"
printf 'xargs -P%s md5sum:              %s  median %.3f s  %.0f MB/s\n' "$workers" "${b[*]}" "$mb" "$(echo "$bytes/$mb/1000000" | bc -l)"
printf 'ratio supervisor / md5sum:      %.2f\n' "$(echo "$ma/$mb" | bc -l)"
