#!/usr/bin/env bash
# Crash isolation, demonstrated: hash a tree undisturbed, then again while workers are killed
# (by the supervisor's own --chaos-kill-every and by `kill -9` from outside), and compare.
#
#   scripts/crash-demo.sh [TREE] [ROUNDS]
#
# Without TREE, a tree is generated in a temp directory. Prints kills and mismatches per round;
# exits 1 if any output differs from the undisturbed run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tree=${1:-}
rounds=${2:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$tree" ]; then
    tree=$work/tree
    python3 "$root/scripts/make-tree.py" "$tree" --files 3000 --total-mb 60 >/dev/null
fi
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin=$root/target/release/supervisor

"$bin" run -w 2 -q --format sums hash "$tree" >"$work/clean.sums"
echo "undisturbed: $(wc -l <"$work/clean.sums") files"

mismatches=0
for round in $(seq 1 "$rounds"); do
    "$bin" run -w 2 --retries 100 --chaos-kill-every 5ms --chaos-seed "$round" \
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
    if cmp -s "$work/clean.sums" "$work/chaos.sums"; then
        verdict=identical
    else
        verdict=DIFFERENT
        mismatches=$((mismatches + 1))
    fi
    echo "round $round: $outside kills from outside; $summary; output $verdict"
done
echo "rounds: $rounds, mismatches: $mismatches"
[ "$mismatches" -eq 0 ]
