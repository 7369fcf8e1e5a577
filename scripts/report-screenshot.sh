#!/usr/bin/env bash
# The README's picture of a report: a real chaos run of the hash job (a generated tree, the
# supervisor SIGKILLing a random busy worker every 60 ms), drawn by `supervisor run --report`
# and rendered by headless Chromium.
#
#   scripts/report-screenshot.sh [OUT.png]    (default: docs/report.png)
#
# Needs chromium (apt-get install chromium) and python3; pngquant, if installed, shrinks the
# PNG. The run is real, so each regeneration differs in its details.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/docs/report.png}
command -v chromium >/dev/null || { echo "report-screenshot.sh: needs chromium (apt-get install chromium)" >&2; exit 1; }

cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin=$root/target/release/supervisor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 "$root/scripts/make-tree.py" "$work/tree" --files 3000 --total-mb 600 --seed 3 >/dev/null
cat "$work"/tree/*/* >/dev/null 2>&1 || true # warm the cache: the picture is of the run, not the disk
# Run from the work directory and through PATH, so the page shows a tidy command line. Exit 1
# is fine: chaos may take all three attempts of a big file.
(cd "$work" && PATH="$(dirname "$bin"):$PATH" supervisor run -w 3 --chaos-kill-every 60ms \
    --chaos-seed 7 --max-restarts 1000 --format sums --report report.html hash tree >/dev/null) \
    || [ $? = 1 ]

chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$work/profile" --window-size=1280,800 \
    --screenshot="$work/report.png" "file://$work/report.html" 2>/dev/null
if command -v pngquant >/dev/null; then
    pngquant --force --quality 60-90 --output "$work/small.png" "$work/report.png" && mv "$work/small.png" "$work/report.png"
fi
mkdir -p "$(dirname "$out")"
cp "$work/report.png" "$out"
echo "wrote $out ($(stat -c %s "$out") bytes)"
