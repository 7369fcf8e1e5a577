#!/usr/bin/env bash
# Chaos soak: hash a tree undisturbed, then again for many rounds while workers are killed
# (by the supervisor's own --chaos-kill-every 5ms and by `kill -9` from outside), and compare
# every round's output with the undisturbed run byte for byte.
#
#   scripts/chaos-soak.sh [TREE] [ROUNDS]
#
# Kills from outside are, to the supervisor, unexpected deaths like any other, so the
# restart-intensity limit is lifted (--max-restarts) for the soak; chaos kills never count.
#
# Chaos kills a random busy worker every 5 ms, so every file must hash well within 5 ms or it
# can never get through: the tree's files are capped at 512 KiB. (A bigger file would exhaust
# its retries by design; that is what --retries is for, not a mismatch.)
#
# Without TREE, a tree of 20,000 files (≤ 512 KiB, about 300 MB) is generated in a temp
# directory. Prints kills and
# mismatches per round and in total; exits 1 if any output differs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tree=${1:-}
rounds=${2:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$tree" ]; then
    tree=$work/tree
    python3 "$root/scripts/make-tree.py" "$tree" --files 20000 --total-mb 400 --max-kb 512 >/dev/null
fi
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin=$root/target/release/supervisor

"$bin" run -w 2 -q --format sums hash "$tree" >"$work/clean.sums"
echo "undisturbed: $(wc -l <"$work/clean.sums") files"

mismatches=0
total_outside=0
total_chaos=0
total_crashes=0
for round in $(seq 1 "$rounds"); do
    "$bin" run -w 2 --retries 100 --max-restarts 100000 --chaos-kill-every 5ms --chaos-seed "$round" \
        --format sums -o "$work/chaos.sums" hash "$tree" 2>"$work/chaos.err" &
    sup=$!
    outside=0
    # Kill workers from outside too, while the run lasts.
    while kill -0 "$sup" 2>/dev/null; do
        for pid in $(pgrep -P "$sup" -f __supervisor_worker || true); do
            kill -9 "$pid" 2>/dev/null && outside=$((outside + 1))
        done
        sleep 0.02
    done
    wait "$sup" || true
    summary=$(grep -m1 '^workers:' "$work/chaos.err" || true)
    crashes=$(echo "$summary" | sed -n 's/.* \([0-9]*\) crashes (\([0-9]*\) by chaos.*/\1 \2/p')
    total_crashes=$((total_crashes + ${crashes% *}))
    total_chaos=$((total_chaos + ${crashes#* }))
    total_outside=$((total_outside + outside))
    if cmp -s "$work/clean.sums" "$work/chaos.sums"; then
        verdict=identical
    else
        verdict=DIFFERENT
        mismatches=$((mismatches + 1))
    fi
    echo "round $round: $outside kills from outside; $summary; output $verdict"
done
echo "rounds: $rounds, worker deaths: $total_crashes ($total_chaos chaos kills, $total_outside kills from outside), mismatches: $mismatches"
[ "$mismatches" -eq 0 ]
