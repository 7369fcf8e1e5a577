#!/usr/bin/env bash
# The benchmark suite: supervisor next to the reference tools and the seed's Python, on
# generated corpora, warm cache, all cores, with one Markdown table of results at the end.
#
#   scripts/bench.sh [--quick] [--runs N] [--dir DIR] [--out FILE]
#
#   --quick    small corpora (10k files / 150 MB tree, 100k small files / 20 MB, 2 × 64 MiB,
#              10 logs / 100 MB) and 3 runs: a few minutes at most on 2 cores
#   --runs N   timed runs per command (default 5, 3 with --quick); commands of a row alternate
#              round by round and the medians are reported
#   --dir DIR  where the corpora live (default /tmp/supervisor-bench[-quick]); generated once,
#              deterministically, and reused while DIR/*.ok markers match the parameters
#   --out FILE the results table (default DIR/bench-results.md); it is also printed
#
# Full corpora: a tree of 100,000 files with a long tail of sizes (~1.5 GB, make-tree.py), a
# million small files (~200 MB in all, make-tree.py; generating it takes a few minutes, once),
# two 256 MiB files, 40 logs of ~950 MB in all with known counts (make-logs.py).
#
# References: md5sum, sha256sum (coreutils), b3sum, rg (ripgrep), GNU parallel and xargs (the
# exec rows), openssl (single-core MD5 and SHA-256 rates for the compute limits; optional),
# python3 (required: it does the timing). As root, a missing b3sum / rg / parallel is installed
# with apt-get; a reference still missing turns its rows into "skipped: X not installed".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scripts=$root/scripts

quick=0
runs=
dir=
out=
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1 ;;
        --runs) runs=${2:?--runs needs a number}; shift ;;
        --runs=*) runs=${1#*=} ;;
        --dir) dir=${2:?--dir needs a directory}; shift ;;
        --dir=*) dir=${1#*=} ;;
        --out) out=${2:?--out needs a file}; shift ;;
        --out=*) out=${1#*=} ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$quick" = 1 ]; then
    runs=${runs:-3}
    dir=${dir:-/tmp/supervisor-bench-quick}
    tree_files=10000 tree_mb=150 big_mb=64 log_files=10 log_mb=100 small_files=100000 small_mb=20
    cpu_scale=10000 pool1_tasks=20000 openssl_secs=1 exec_tasks=500
else
    runs=${runs:-5}
    dir=${dir:-/tmp/supervisor-bench}
    tree_files=100000 tree_mb=1500 big_mb=256 log_files=40 log_mb=950 small_files=1000000 small_mb=200
    cpu_scale=30000 pool1_tasks=50000 openssl_secs=2 exec_tasks=2000
fi
engine_tasks=200000
out=${out:-$dir/bench-results.md}
W=$(nproc)

say() { printf '\n== %s\n' "$*"; }

command -v python3 >/dev/null || { echo "bench.sh: python3 is required (it times the runs)" >&2; exit 1; }

# --- build --------------------------------------------------------------------------------
say "building the release binary"
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p supervisor-runtime --example throughput
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p supervisor-jobs --example walk_time
bin=$root/target/release/supervisor
throughput=$root/target/release/examples/throughput
walk_time=$root/target/release/examples/walk_time
"$bin" --version

# --- references ---------------------------------------------------------------------------
say "references"
apt_updated=0
try_install() { # TOOL PACKAGE
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
    echo "  $1 missing: apt-get install -y $2"
    if ! apt-get install -y -qq "$2" >/dev/null 2>&1; then
        [ "$apt_updated" = 1 ] && return 1
        apt_updated=1
        apt-get update -qq >/dev/null 2>&1 || return 1
        apt-get install -y -qq "$2" >/dev/null 2>&1 || return 1
    fi
}
declare -A have
for spec in md5sum:coreutils sha256sum:coreutils b3sum:b3sum rg:ripgrep parallel:parallel openssl:openssl; do
    tool=${spec%%:*} pkg=${spec#*:}
    if ! command -v "$tool" >/dev/null && [ "$tool" != openssl ]; then
        try_install "$tool" "$pkg" || true
    fi
    if command -v "$tool" >/dev/null; then
        have[$tool]=1
        case $tool in
            openssl) version=$(openssl version) ;;
            *) version=$("$tool" --version 2>&1 | sed -n 1p) ;;
        esac
        printf '  %-10s %s (%s)\n' "$tool" "$(command -v "$tool")" "$version"
    else
        have[$tool]=0
        printf '  %-10s NOT INSTALLED: its rows are skipped\n' "$tool"
    fi
done
# The interpreter itself, not a launcher such as a pyenv shim (a shell script that would add
# its own start-up to every timed Python run).
py=$(python3 -c 'import sys; print(sys.executable)')
printf '  %-10s %s (%s)\n' python3 "$py" "$(python3 --version 2>&1)"
skip_unless() { [ "${have[$1]}" = 1 ]; }

# --- corpora ------------------------------------------------------------------------------
mkdir -p "$dir/out"
tree=$dir/tree big=$dir/big logs=$dir/logs small=$dir/million
generate() { # NAME DIR COMMAND...: run COMMAND unless DIR/../NAME.ok holds the same description
    local name=$1 target=$2; shift 2
    local want
    want="$* $(md5sum "$scripts"/make-*.py | awk '{print $1}' | tr '\n' ' ')"
    if [ -d "$target" ] && [ "$(cat "$dir/$name.ok" 2>/dev/null)" = "$want" ]; then
        echo "  $name: reusing $target"
        return
    fi
    echo "  $name: generating $target"
    rm -rf "$target" "$dir/$name.ok"
    "$@"
    echo "$want" >"$dir/$name.ok"
}
say "corpora in $dir"
generate tree "$tree" python3 "$scripts/make-tree.py" "$tree" --files "$tree_files" --total-mb "$tree_mb"
generate big "$big" python3 "$scripts/make-tree.py" "$big" --files 0 --big 2 --big-mb "$big_mb" --seed 2
generate logs "$logs" python3 "$scripts/make-logs.py" "$logs" --files "$log_files" --total-mb "$log_mb"
generate million "$small" python3 "$scripts/make-tree.py" "$small" --files "$small_files" --total-mb "$small_mb"

stats() { find "$1" -type f "${@:2}" -printf '%s\n' | awk '{n++; s+=$1} END {printf "%d %d\n", n, s}'; }
read -r tree_n tree_bytes < <(stats "$tree")
read -r big_n big_bytes < <(stats "$big")
read -r log_n log_bytes < <(stats "$logs" -name '*.log')
read -r small_n small_bytes < <(stats "$small")
bigfile=$big/big0.bin
mb() { python3 -c "print(f'{$1/1e6:,.0f}')"; }
echo "  tree: $tree_n files, $(mb "$tree_bytes") MB; small files: $small_n, $(mb "$small_bytes") MB; big: $big_n × ${big_mb} MiB; logs: $log_n files, $(mb "$log_bytes") MB"

say "warming the page cache"
find "$dir/tree" "$dir/big" "$dir/logs" "$small" -type f -print0 | xargs -0 cat >/dev/null

store=$dir/out/measurements.json
rows=$dir/out/rows.tsv
notes=$dir/out/notes.txt
rm -f "$store" "$rows" "$notes"
: >"$rows"
: >"$notes"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
o=$dir/out
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$rows"; }
note() { echo "$*" >>"$notes"; }
same() { cmp -s "$1" "$2" || { echo "bench.sh: $3" >&2; exit 1; }; } # FILE FILE WHAT-DIFFERS
timeit() { python3 "$scripts/timeit_cmd.py" --runs "$runs" --store "$store" "$@"; }
put() { python3 "$scripts/timeit_cmd.py" --store "$store" --put "$@"; }
xargs_tree() { echo "find '$tree' -type f -print0 | xargs -0 -P $W -n256 $1 >$o/$2.out"; }
sup="'$bin' run -w $W -q"

# --- single-core compute rates (limits) ---------------------------------------------------
say "single-core digest rates"
rate_of() { # ALGO -> bytes/s of one core, from openssl speed (1 MiB blocks)
    openssl speed -evp "$1" -bytes 1048576 -seconds "$openssl_secs" 2>/dev/null \
        | awk -v a="$1" '$1 == a {v=$NF; sub(/k$/, "", v); print v * 1000}'
}
md5_rate= sha_rate=
if skip_unless openssl; then
    md5_rate=$(rate_of md5); sha_rate=$(rate_of sha256)
    rate_src="openssl speed -evp md5/sha256 -bytes 1048576"
fi
if [ -z "$md5_rate" ]; then # no openssl: one core of md5sum over a big file
    t=$(python3 - "$bigfile" <<'EOF'
import subprocess, sys, time
s = time.perf_counter(); subprocess.run(["md5sum", sys.argv[1]], stdout=subprocess.DEVNULL, check=True)
print(time.perf_counter() - s)
EOF
)
    md5_rate=$(python3 -c "print($((big_bytes / big_n)) / $t)")
    rate_src="md5sum of one ${big_mb} MiB file (openssl not installed)"
fi
limit() { python3 -c "print($1 / ($W * $2))"; } # BYTES RATE -> seconds on W cores
echo "  md5: $(mb "$md5_rate") MB/s per core${sha_rate:+, sha256: $(mb "$sha_rate") MB/s per core} ($rate_src)"
note "compute limit = bytes / ($W × single-core rate); rates: md5 $(mb "$md5_rate") MB/s${sha_rate:+, sha256 $(mb "$sha_rate") MB/s} per core ($rate_src)"

# --- a. md5 tree --------------------------------------------------------------------------
say "a. md5, tree of $tree_n files ($(mb "$tree_bytes") MB)"
specs=("sup_md5_tree=$sup --format sums hash '$tree' >$o/sup_md5_tree.out")
skip_unless md5sum && specs+=("xargs_md5_tree=$(xargs_tree md5sum xargs_md5_tree)")
specs+=("seed_hash=$py '$scripts/seed_hash.py' '$tree' >$o/seed_hash.out 2>/dev/null")
timeit "${specs[@]}"
if skip_unless md5sum; then
    if cmp -s <(sort "$o/sup_md5_tree.out") <(sort "$o/xargs_md5_tree.out"); then
        echo "  md5 digests verified against md5sum ($tree_n files)"
    else
        echo "bench.sh: supervisor's md5 sums differ from md5sum's" >&2; exit 1
    fi
fi
md5_ref=$(skip_unless md5sum && echo t:xargs_md5_tree || echo "skip:md5sum not installed")
row "md5 tree, $tree_n files, $(mb "$tree_bytes") MB" t:sup_md5_tree "xargs -P$W md5sum" "$md5_ref" "ratio<=0.35" s
row "md5 tree vs compute limit" t:sup_md5_tree "limit" "n:$(limit "$tree_bytes" "$md5_rate")" "ratio<=1.15" s
row "md5 tree, CPU time vs 1-core compute time" c:sup_md5_tree "bytes / 1-core rate" "n:$(limit "$tree_bytes" "$md5_rate" | python3 -c "import sys; print(float(sys.stdin.read()) * $W)")" - s
row "md5 tree vs seed Python (≥3× faster)" t:sup_md5_tree "seed_hash.py" t:seed_hash "ratio<=0.3333" s

# --- a2. md5, a million small files ------------------------------------------------------
say "a2. md5, $small_n small files ($(mb "$small_bytes") MB)"
# xargs with -n512 as the issue's reference: 512 names per md5sum, two at a time.
specs=("sup_md5_small=$sup --format sums hash '$small' >$o/sup_md5_small.out")
skip_unless md5sum && specs+=("xargs_md5_small=find '$small' -type f -print0 | xargs -0 -P $W -n512 md5sum >$o/xargs_md5_small.out")
specs+=("sup_md5_small_syscalls=SUPERVISOR_IO_URING=off $sup --format sums hash '$small' >$o/sup_md5_small_syscalls.out")
timeit "${specs[@]}"
same "$o/sup_md5_small.out" "$o/sup_md5_small_syscalls.out" "the io_uring and system-call runs differ on $small"
if skip_unless md5sum; then
    if cmp -s <(sort "$o/sup_md5_small.out") <(sort "$o/xargs_md5_small.out"); then
        echo "  md5 digests verified against md5sum ($small_n files)"
    else
        echo "bench.sh: supervisor's md5 sums differ from md5sum's on $small" >&2; exit 1
    fi
fi
# The parent's peak RSS (GNU time's %M: the supervisor process; its workers stay far below).
rss_kb() { # COMMAND -> peak RSS in KiB of the process it starts
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f %M -o "$o/rss.txt" bash -c "exec $1" && cat "$o/rss.txt"
    else
        python3 -c 'import resource, subprocess, sys; subprocess.run(["bash", "-c", "exec " + sys.argv[1]], check=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$1"
    fi
}
small_rss=$(rss_kb "$sup --format sums hash '$small' >/dev/null")
echo "  parent peak RSS: $((small_rss / 1024)) MiB"
put "sup_md5_small_rss=$(python3 -c "print($small_rss * 1024 / 1e6)")"
small_ref=$(skip_unless md5sum && echo t:xargs_md5_small || echo "skip:md5sum not installed")
row "md5 $small_n small files, $(mb "$small_bytes") MB" t:sup_md5_small "xargs -P$W -n512 md5sum" "$small_ref" "ratio<=0.5" s
row "md5 $small_n small files, io_uring off (info)" t:sup_md5_small_syscalls "xargs -P$W -n512 md5sum" "$small_ref" - s
row "md5 $small_n small files: parent peak RSS" v:sup_md5_small_rss "goal" "n:100" "sup<=100" MB
# The parent's walk alone (what it does before the first task is sent) against find's listing.
timeit "walk_small='$walk_time' '$small' 1 >/dev/null" "find_small=find '$small' -type f >/dev/null"
row "walk of the $small_n small files (the hash job's discovery, info)" t:walk_small "find -type f" t:find_small - s
note "walk: crates/jobs/examples/walk_time (hash discovery with sizes where they pay, into its compact PathList); find lists the same tree"
# Verifying the same files from a checksum file (ours, as md5sum writes it): hash --check
# against md5sum -c, which has no parallel mode; their outputs compared.
cp "$o/sup_md5_small.out" "$o/small.md5"
specs=("sup_check_small=$sup hash --check '$o/small.md5' >$o/sup_check_small.out")
skip_unless md5sum && specs+=("md5sum_check_small=md5sum -c '$o/small.md5' >$o/md5sum_check_small.out")
timeit "${specs[@]}"
if skip_unless md5sum; then
    same "$o/sup_check_small.out" "$o/md5sum_check_small.out" \
        "hash --check and md5sum -c print different lines for $small"
    echo "  hash --check output identical to md5sum -c's ($small_n lines)"
fi
check_ref=$(skip_unless md5sum && echo t:md5sum_check_small || echo "skip:md5sum not installed")
row "md5sum -c of the $small_n small files" t:sup_check_small "md5sum -c" "$check_ref" "ratio<=1" s
note "small files: the CPU split (user/sys) of each command is in the table of timed commands; SUPERVISOR_IO_URING=off forces the one-by-one system calls (what runs where io_uring is missing or refused)"

# --- b. md5 big files ---------------------------------------------------------------------
say "b. md5, $big_n files of ${big_mb} MiB"
specs=("sup_md5_big=$sup --format sums hash '$big' >$o/sup_md5_big.out")
skip_unless md5sum && specs+=("xargs_md5_big=find '$big' -type f -print0 | xargs -0 -P $W -n1 md5sum >$o/xargs_md5_big.out")
timeit "${specs[@]}"
row "md5 $big_n × ${big_mb} MiB vs compute limit" t:sup_md5_big "limit" "n:$(limit "$big_bytes" "$md5_rate")" "ratio<=1.1" s
row "md5 $big_n × ${big_mb} MiB, CPU time vs 1-core compute time" c:sup_md5_big "bytes / 1-core rate" "n:$(python3 -c "print($big_bytes / $md5_rate)")" - s
md5_ref=$(skip_unless md5sum && echo t:xargs_md5_big || echo "skip:md5sum not installed")
row "md5 $big_n × ${big_mb} MiB vs md5sum" t:sup_md5_big "xargs -P$W -n1 md5sum" "$md5_ref" - s

# --- c. blake3 ----------------------------------------------------------------------------
say "c. blake3, tree and one ${big_mb} MiB file"
if skip_unless b3sum; then
    timeit "sup_b3_tree=$sup --format sums hash --algo blake3 '$tree' >$o/sup_b3_tree.out" \
        "xargs_b3_tree=$(xargs_tree b3sum xargs_b3_tree)"
    if cmp -s <(sort "$o/sup_b3_tree.out") <(sort "$o/xargs_b3_tree.out"); then
        echo "  blake3 digests verified against b3sum"
    else
        echo "bench.sh: supervisor's blake3 sums differ from b3sum's" >&2; exit 1
    fi
    timeit "sup_b3_one=$sup --format sums hash --algo blake3 '$bigfile' >$o/sup_b3_one.out" \
        "b3sum_one=b3sum '$bigfile' >$o/b3sum_one.out"
    same "$o/sup_b3_one.out" "$o/b3sum_one.out" "blake3 of $bigfile differs"
    row "blake3 tree" t:sup_b3_tree "xargs -P$W b3sum" t:xargs_b3_tree "ratio<=0.7" s
    row "blake3 one ${big_mb} MiB file" t:sup_b3_one "b3sum (multithreaded)" t:b3sum_one "ratio<=1.0" s
else
    timeit "sup_b3_tree=$sup --format sums hash --algo blake3 '$tree' >$o/sup_b3_tree.out" \
        "sup_b3_one=$sup --format sums hash --algo blake3 '$bigfile' >$o/sup_b3_one.out"
    row "blake3 tree" t:sup_b3_tree "xargs b3sum" "skip:b3sum not installed" "ratio<=0.7" s
    row "blake3 one ${big_mb} MiB file" t:sup_b3_one "b3sum" "skip:b3sum not installed" "ratio<=1.0" s
fi

# --- d. sha256 tree -----------------------------------------------------------------------
say "d. sha256, tree"
specs=("sup_sha_tree=$sup --format sums hash --algo sha256 '$tree' >$o/sup_sha_tree.out")
skip_unless sha256sum && specs+=("xargs_sha_tree=$(xargs_tree sha256sum xargs_sha_tree)")
timeit "${specs[@]}"
if skip_unless sha256sum; then
    cmp -s <(sort "$o/sup_sha_tree.out") <(sort "$o/xargs_sha_tree.out") \
        || { echo "bench.sh: supervisor's sha256 sums differ from sha256sum's" >&2; exit 1; }
    echo "  sha256 digests verified against sha256sum"
    row "sha256 tree (≥4× faster)" t:sup_sha_tree "xargs -P$W sha256sum" t:xargs_sha_tree "ratio<=0.25" s
else
    row "sha256 tree (≥4× faster)" t:sup_sha_tree "xargs sha256sum" "skip:sha256sum not installed" "ratio<=0.25" s
fi
if [ -n "$sha_rate" ]; then
    row "sha256 tree vs compute limit" t:sup_sha_tree "limit" "n:$(limit "$tree_bytes" "$sha_rate")" - s
fi

# --- e. logs ------------------------------------------------------------------------------
say "e. logs, $log_n files ($(mb "$log_bytes") MB)"
"$bin" run -w "$W" -q --format json logs "$logs" >"$o/sup_logs.json"
python3 - "$o/sup_logs.json" "$logs/expected.json" <<'EOF'
import json, os, sys
got = {os.path.basename(r["path"]): r for r in json.load(open(sys.argv[1]))["results"]}
want = {os.path.basename(p): e for p, e in json.load(open(sys.argv[2])).items()}
bad = [n for n in want if n not in got or got[n].get("lines") != want[n]["lines"]
       or got[n].get("counts") != want[n]["counts"]]
if bad or len(got) != len(want):
    sys.exit(f"bench.sh: logs counts DIFFER from expected.json: {bad[:5]} ({len(got)} vs {len(want)} files)")
e = sum(w["counts"]["ERROR"] for w in want.values()); w_ = sum(w["counts"]["WARNING"] for w in want.values())
print(f"  counts verified: {len(want)} files, {e} ERROR, {w_} WARNING lines, as expected.json")
EOF
specs=("sup_logs=$sup --format json logs '$logs' >$o/sup_logs.out")
# rg's output goes to a file, not /dev/null: rg treats a /dev/null stdout like --quiet.
skip_unless rg && specs+=("rg_logs=rg -j $W -c -e ERROR -e WARNING '$logs' >$o/rg_logs.out")
seed_default=$((W > 1 ? W - 1 : 1))
specs+=("seed_logs=$py '$scripts/seed_logs.py' '$logs' >$o/seed_logs.out")
[ "$seed_default" != "$W" ] && specs+=("seed_logs_all=$py '$scripts/seed_logs.py' --processes $W '$logs' >$o/seed_logs_all.out")
timeit "${specs[@]}"
rg_ref=$(skip_unless rg && echo t:rg_logs || echo "skip:rg not installed")
row "logs, $log_n files, $(mb "$log_bytes") MB" t:sup_logs "rg -j$W -c -e ERROR -e WARNING" "$rg_ref" "ratio<=0.6" s
row "logs vs seed Python (≥15× faster)" t:sup_logs "seed_logs.py (its default: $seed_default process)" t:seed_logs "ratio<=0.0667" s
[ "$seed_default" != "$W" ] && row "logs vs seed Python on all $W cores" t:sup_logs "seed_logs.py -p $W" t:seed_logs_all - s
note "rg -c counts lines matching either pattern (one number per file); supervisor counts ERROR and WARNING separately, the seed's rule"
note "seed_logs.py runs the seed's default of max(1, cpu_count - 1) = $seed_default processes for the goal row, and all $W cores in the row after it"

# --- f. engine: trivial tasks -------------------------------------------------------------
say "f. engine, $engine_tasks trivial tasks (the hidden fault job: item²)"
timeit "sup_engine=$sup --format csv -o /dev/null fault --tasks $engine_tasks" \
    "pool_default=$py '$scripts/trivial_pool.py' $engine_tasks --chunksize default >$o/pool_default.out" \
    "pool_one=$py '$scripts/trivial_pool.py' $pool1_tasks --chunksize 1 >$o/pool_one.out"
# The engine alone, through the library API (timed inside the process: run() to report), one
# run per process as a program would do it (several runs in one process measure the
# allocator's reuse of the previous run's memory as much as the engine); the median rate.
engine_rates=()
for _ in $(seq "$runs"); do
    engine_lib=$("$throughput" "$engine_tasks" "$W" 1)
    engine_rates+=("${engine_lib##*rate=}")
done
engine_rate=$(printf '%s\n' "${engine_rates[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "  library API: ${engine_rates[*]} tasks/s (median $engine_rate)"
put "sup_engine_lib=$engine_rate"
row "engine: $engine_tasks trivial tasks (library API)" v:sup_engine_lib "Pool.map default chunksize" "rate:$engine_tasks:pool_default" "sup>=5000000" tasks/s
row "engine through the CLI (fault job, CSV output)" "rate:$engine_tasks:sup_engine" "Pool.map default chunksize" "rate:$engine_tasks:pool_default" - tasks/s
row "engine vs Pool.map chunksize=1" "rate:$engine_tasks:sup_engine" "Pool.map chunksize=1 ($pool1_tasks tasks)" "rate:$pool1_tasks:pool_one" - tasks/s
note "engine (library API): the median of $runs runs (one per process) of Supervisor::run over $engine_tasks trivial tasks on $W workers, spawns and reaping included, timed inside the process (crates/runtime/examples/throughput.rs); the Python side is timed as a whole command, interpreter and Pool start included"
note "engine through the CLI: tasks / wall time of the whole command (process start, $W worker spawns, output to /dev/null as CSV)"

# --- g. cpu --compare ---------------------------------------------------------------------
say "g. cpu --compare (the seed's benchmark)"
sup_speedups=() seed_speedups=()
for i in $(seq 1 "$runs"); do
    s=$("$bin" run -w "$W" cpu --compare --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["compare"]["speedup"])')
    p=$("$py" "$scripts/seed_cpu.py" --scale "$cpu_scale" | awk '/^speedup:/ {print $2}')
    sup_speedups+=("$s") seed_speedups+=("$p")
    printf '  run %d: supervisor %.3f×, seed Python %.3f×\n' "$i" "$s" "$p"
done
med() { printf '%s\n' "$@" | python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.stdin))'; }
put "sup_cpu_speedup=$(med "${sup_speedups[@]}")" "seed_cpu_speedup=$(med "${seed_speedups[@]}")"
row "cpu --compare speedup ($W workers)" v:sup_cpu_speedup "seed_cpu.py" v:seed_cpu_speedup "sup>=1.85" x
note "seed_cpu.py runs the seed's task list at --scale $cpu_scale (the seed's 1,000,000 takes minutes in CPython); supervisor's at the full scale, each task cut into slices. Ideal: 2× for slices, 1.875× for whole tasks largest-first, 1.67× for Pool.map's in-order hand-out"

# --- h. exec: one command per item --------------------------------------------------------
say "h. exec, $exec_tasks commands on $W workers"
specs=("sup_exec_true=seq $exec_tasks | $sup exec -- true"
    "xargs_exec_true=seq $exec_tasks | xargs -P $W -n1 true")
skip_unless parallel && specs+=("par_exec_true=seq $exec_tasks | parallel --will-cite -j $W true")
# The floor: the same spawns of `true` from a bare C loop, nothing captured or supervised.
floor=$o/spawn_floor
rm -f "$floor"
if command -v cc >/dev/null && cc -O2 -o "$floor" "$scripts/spawn_floor.c"; then
    specs+=("floor_exec_true='$floor' $exec_tasks $W true")
fi
timeit "${specs[@]}"
specs=("sup_exec_echo=seq $exec_tasks | $sup exec -- echo {}.x >$o/sup_exec_echo.out")
skip_unless parallel && specs+=("par_exec_echo=seq $exec_tasks | parallel --will-cite -k -j $W echo {}.x >$o/par_exec_echo.out")
timeit "${specs[@]}"
if skip_unless parallel; then
    same "$o/sup_exec_echo.out" "$o/par_exec_echo.out" "exec's output differs from parallel -k's"
    echo "  exec output identical to parallel -k's ($exec_tasks lines)"
fi
par_ref() { skip_unless parallel && echo "t:$1" || echo "skip:parallel not installed"; }
row "exec: $exec_tasks × true (per-task overhead)" t:sup_exec_true "xargs -P$W -n1 true" t:xargs_exec_true "ratio<=0.8" s
floor_ref=$([ -x "$floor" ] && echo t:floor_exec_true || echo "skip:no C compiler (cc)")
row "exec: the floor, a bare posix_spawn loop of true in C (info)" "$floor_ref" "xargs -P$W -n1 true" t:xargs_exec_true - s
row "exec: $exec_tasks × true vs the floor (info)" t:sup_exec_true "bare posix_spawn loop (scripts/spawn_floor.c)" "$floor_ref" - s
row "exec: $exec_tasks × true vs GNU parallel" t:sup_exec_true "parallel -j$W true" "$(par_ref par_exec_true)" - s
row "exec: echo {}.x for each of seq $exec_tasks (output = parallel -k's)" t:sup_exec_echo "parallel -k echo {}.x" "$(par_ref par_exec_echo)" "ratio<=1.0" s
note "exec rows: per-task time = time / $exec_tasks; every command is a real process (posix_spawn in the worker, output captured in \$TMPDIR files); xargs and parallel append the item as we do"

# --- i. the event log's cost --------------------------------------------------------------
say "i. --events: the md5 tree with its lifecycle logged"
# A cost of a few percent is within one run's noise: three times the rounds, so the median
# says which side of the 3% goal it is on.
python3 "$scripts/timeit_cmd.py" --runs "$((runs * 3))" --store "$store" \
    "sup_md5_plain=$sup --format sums hash '$tree' >$o/sup_md5_plain.out" \
    "sup_md5_events=$sup --format sums --events $o/events.jsonl hash '$tree' >$o/sup_md5_events.out"
same "$o/sup_md5_plain.out" "$o/sup_md5_events.out" "the output differs with --events"
row "md5 tree with --events (its cost)" t:sup_md5_events "the same without --events" t:sup_md5_plain "ratio<=1.03" s
"$bin" report "$o/events.jsonl" -o "$o/events.html" 2>/dev/null
note "--events rows: the median of $((runs * 3)) alternating runs each"
note "--events on the md5 tree: $(wc -l <"$o/events.jsonl") lines, $(mb "$(stat -c %s "$o/events.jsonl")") MB; its report (supervisor report): $(mb "$(stat -c %s "$o/events.html")") MB"

# --- j, k, l. library vs CPython multiprocessing ----------------------------------------
# The same programs with supervisor-mp and with CPython's multiprocessing, alternating run by
# run, medians. One block per area (kept apart so that they merge cleanly).

# j. Pool and Process
say "j. library vs CPython multiprocessing: Pool and Process"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p supervisor-mp --example bench_pool
bench_pool=$root/target/release/examples/bench_pool
python3 "$scripts/mp_bench_compare.py" --runs "$runs" --store "$store" \
    "mp=$bench_pool" \
    "py=$py '$scripts/mp_bench_pool.py' --start-method fork" \
    "pyspawn=$py '$scripts/mp_bench_pool.py' --start-method spawn spawn_join"
row "library: Pool(2) reused, 1000 × map of 8 items, per call" v:mp_pool_reuse "multiprocessing.Pool(2), fork" v:py_pool_reuse "ratio<=0.5" ms
row "library: one map of 200,000 trivial items" v:mp_map_200k "multiprocessing.Pool(2), fork" v:py_map_200k "ratio<=0.5" ms
row "library: apply_async × 10,000, then every result" v:mp_apply_async_10k "multiprocessing.Pool(2), fork" v:py_apply_async_10k - ms
row "library: Process spawn + join" v:mp_spawn_join "multiprocessing.Process, fork" v:py_spawn_join "ratio<=1.0" ms
row "library: Process spawn + join vs Python's spawn" v:mp_spawn_join "multiprocessing.Process, spawn" v:pyspawn_spawn_join - ms
note "library rows: crates/mp/examples/bench_pool.rs and scripts/mp_bench_pool.py run the same programs, timed inside each process after its pool has started (median of $runs runs each, alternating); default chunksize on both sides (Python's rule: 8 items on 2 workers = 8 tasks of 1); spawn + join is the median of 20 in each run"

# sync primitives: crates/mp/examples/bench_sync.rs vs scripts/mp_bench_sync.py, timed inside
# the child process (the fastest of 3 loops), alternating round by round; the median ops/s of each.
say "k. library vs CPython: sync primitives, 1,000,000 uncontended ops in a child"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p supervisor-mp --example bench_sync
sync_n=1000000
declare -A sync_sup sync_py
for _ in $(seq "$runs"); do
    while read -r name _ _ _ _ _ rate _; do
        sync_sup[${name%:}]+="$rate "
    done < <("$root/target/release/examples/bench_sync" "$sync_n")
    while read -r name _ _ _ _ _ rate _; do
        sync_py[${name%:}]+="$rate "
    done < <("$py" "$scripts/mp_bench_sync.py" "$sync_n")
done
for name in lock rlock semaphore value; do
    # shellcheck disable=SC2086
    put "sup_sync_$name=$(med ${sync_sup[$name]})" "py_sync_$name=$(med ${sync_py[$name]})"
    echo "  $name: supervisor-mp ${sync_sup[$name]}; CPython ${sync_py[$name]}(ops/s)"
done
row "Lock: acquire/release in a child, uncontended" v:sup_sync_lock "multiprocessing.Lock" v:py_sync_lock "ratio>=1" tasks/s
row "RLock: acquire/release in a child, uncontended" v:sup_sync_rlock "multiprocessing.RLock" v:py_sync_rlock - tasks/s
row "Semaphore: acquire/release in a child, uncontended" v:sup_sync_semaphore "multiprocessing.Semaphore" v:py_sync_semaphore - tasks/s
row "Value: += 1 under its lock, in a child" v:sup_sync_value "with v.get_lock(): v.value += 1" v:py_sync_value - tasks/s
note "sync primitives: ops/s of $sync_n uncontended acquire/release pairs (or locked increments) in one child process, timed inside the child (the fastest of 3 loops), median of $runs runs alternating with CPython; supervisor-mp's are robust (a holder killed by SIGKILL hands them on as Abandoned), CPython's wait forever"

# l. Queue and Manager: crates/mp/examples/bench_queue.rs vs scripts/mp_bench_queue.py.
say "l. library vs CPython multiprocessing: Queue and Manager"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p supervisor-mp --example bench_queue
bench_queue=$root/target/release/examples/bench_queue
queue_items=100000 manager_ops=10000
rate_of() { sed -n 's|.*= \([0-9.]*\)/s$|\1|p'; } # "NAME: N in S s = R/s" -> R
mp_q_sup=() mp_q_py=() mp_m_sup=() mp_m_py=()
for _ in $(seq "$runs"); do
    mp_q_sup+=("$("$bench_queue" queue "$queue_items" | rate_of)")
    mp_q_py+=("$("$py" "$scripts/mp_bench_queue.py" queue "$queue_items" | rate_of)")
    mp_m_sup+=("$("$bench_queue" manager "$manager_ops" | rate_of)")
    mp_m_py+=("$("$py" "$scripts/mp_bench_queue.py" manager "$manager_ops" | rate_of)")
done
echo "  Queue items/s: supervisor-mp ${mp_q_sup[*]}; CPython ${mp_q_py[*]}"
echo "  Manager dict ops/s: supervisor-mp ${mp_m_sup[*]}; CPython ${mp_m_py[*]}"
put "mp_queue_sup=$(med "${mp_q_sup[@]}")" "mp_queue_py=$(med "${mp_q_py[@]}")" \
    "mp_manager_sup=$(med "${mp_m_sup[@]}")" "mp_manager_py=$(med "${mp_m_py[@]}")"
row "Queue: a child puts $queue_items ints, the parent gets them" v:mp_queue_sup "CPython multiprocessing.Queue" v:mp_queue_py "ratio>=2" tasks/s
row "Manager dict: $manager_ops d[k] = v in a child" v:mp_manager_sup "CPython Manager().dict()" v:mp_manager_py "ratio>=2" tasks/s
note "Queue and Manager rows: items (or operations) per second from the child's start to its join, the median of $runs runs of each program alternating (crates/mp/examples/bench_queue.rs, scripts/mp_bench_queue.py with the default start method, fork); the Manager is started before the clock starts, in both"

# --- the table ----------------------------------------------------------------------------
note "load average (1/5/15 min) before the timed runs: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg) — above 0 means other processes competed for the $W cores"
mode=$([ "$quick" = 1 ] && echo "--quick, " || true)
say "results"
python3 "$scripts/bench_table.py" --store "$store" --rows "$rows" --notes "$notes" --out "$out" \
    --title "scripts/bench.sh (${mode}$runs runs per command, medians, warm cache, -w $W)"
echo
echo "written to $out (raw times: $store); took $((SECONDS / 60)) min $((SECONDS % 60)) s"
