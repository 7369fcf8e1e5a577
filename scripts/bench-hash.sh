#!/usr/bin/env bash
# Hash throughput of `supervisor run hash` next to `xargs -P$(nproc) md5sum` on a tree you give.
#
#   scripts/bench-hash.sh TREE [RUNS]
#
# A thin wrapper over the pieces of the full suite (scripts/bench.sh, which also generates its
# own corpora and compares every job with its reference): warms the page cache, then times both
# commands alternately with scripts/timeit_cmd.py and prints each time, the medians, MB/s,
# files/s and the ratio.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tree=${1:?usage: scripts/bench-hash.sh TREE [RUNS]}
runs=${2:-5}
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin=$root/target/release/supervisor
workers=$(nproc)

read -r files bytes < <(find "$tree" -type f -printf '%s\n' | awk '{n++; s+=$1} END {printf "%d %d\n", n, s}')
find "$tree" -type f -print0 | xargs -0 cat >/dev/null   # warm the cache
store=$(mktemp)
trap 'rm -f "$store"' EXIT
echo "tree: $files files, $bytes bytes, $workers workers, $runs runs each"
python3 "$root/scripts/timeit_cmd.py" --runs "$runs" --store "$store" \
    "supervisor=$(printf '%q' "$bin") run -w $workers -q --format sums hash $(printf '%q' "$tree") >/dev/null" \
    "md5sum=find $(printf '%q' "$tree") -type f -print0 | xargs -0 -P$workers -n256 md5sum >/dev/null"
python3 - "$store" "$files" "$bytes" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); files, size = int(sys.argv[2]), int(sys.argv[3])
a, b = m["supervisor"]["median"], m["md5sum"]["median"]
print(f"supervisor run hash (md5): {size / a / 1e6:.0f} MB/s, {files / a:.0f} files/s")
print(f"xargs md5sum:              {size / b / 1e6:.0f} MB/s")
print(f"ratio supervisor / md5sum: {a / b:.2f}")
PY
