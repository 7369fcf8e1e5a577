#!/usr/bin/env bash
# End to end on a real Slurm: a one-node cluster from Debian's packages, started by hand (no
# systemd), running the recipes in deploy/slurm/.
#
#   scripts/slurm-e2e.sh          (CI runs it after the tests; needs root and apt-get)
#
# 1. installs slurmctld, slurmd, slurm-client and munge (no recommends) unless present;
# 2. writes a one-node slurm.conf (select/cons_tres with CR_CPU, proctrack/linuxproc,
#    task/none, batch_sched_delay=0, munge auth) with its state and logs in a temp dir, starts
#    munged, slurmctld and slurmd in the foreground as children of this script, records their
#    pids, and waits for `sinfo` to show the node idle;
# 3. submits deploy/slurm/submit.sh: a 3-task array of `supervisor run --partition auto hash`
#    and the merge job that depends on it; compares the merge with one run of the same hash;
# 4. submits a 3-task array of a slow job, cancels one task mid-run with scancel, checks that
#    none of its workers survives, reruns that index (`scontrol requeue`), merges, compares.
#
# Every wait polls against a deadline; on failure the daemons' logs are printed. On exit the
# jobs are cancelled and exactly the three daemons started here are stopped. Prints the time
# of each phase. If Slurm cannot be installed (no apt-get, no network, not root) it says so
# loudly and exits 0: nothing was checked, and the line says it.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
started=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "slurm-e2e: $*"; }

# --- install --------------------------------------------------------------------------------
ignored() {
    echo "ignored: $* ; the Slurm end-to-end check did NOT run"
    exit 0
}
if [ "$(id -u)" -ne 0 ]; then
    ignored "needs root (slurmd starts jobs as their user)"
fi
phase=$(date +%s.%N)
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || ignored "could not install slurm: no apt-get"
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null 2>&1 \
        || ignored "could not install slurm (apt-get install slurmctld slurmd slurm-client munge failed)"
fi
install_s=$(elapsed "$phase")
say "slurm $(dpkg-query -W -f='${Version}' slurmctld 2>/dev/null || echo '(version unknown)') ready ($install_s s)"

supervisor=${SUPERVISOR:-$repo/target/debug/supervisor}
if [ ! -x "$supervisor" ]; then
    cargo build --quiet --bin supervisor
fi
supervisor=$(readlink -f "$supervisor")

# --- the cluster ----------------------------------------------------------------------------
dir=$(mktemp -d /tmp/supervisor-slurm-e2e.XXXXXX)
# munged wants every directory above its socket searchable by all.
chmod 755 "$dir"
mkdir -p "$dir/munge" "$dir/key" "$dir/state" "$dir/spool" "$dir/log" "$dir/jobs"
chmod 700 "$dir/key"
export SLURM_CONF=$dir/slurm.conf
daemons=()       # "name pid" of each daemon started here
ok=0

cancel_jobs() {
    # Every job of this cluster (SLURM_CONF points at it): scancel, then wait for the queue
    # to drain so no job step outlives the daemons.
    if [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
        scancel --full --quiet $(squeue -h -o %i 2>/dev/null) 2>/dev/null || true
        local deadline=$((SECONDS + 20))
        while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ $SECONDS -lt $deadline ]; do
            sleep 0.2
        done
    fi
}

stop_daemons() {
    local entry name pid deadline
    for ((i = ${#daemons[@]} - 1; i >= 0; i--)); do
        read -r name pid <<<"${daemons[$i]}"
        kill -TERM "$pid" 2>/dev/null || continue
        deadline=$((SECONDS + 10))
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            say "$name ($pid) ignored SIGTERM for 10 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
}

show_logs() {
    for log in "$dir"/log/* "$dir"/munge/munged.log "$dir"/jobs/*.out; do
        [ -f "$log" ] || continue
        echo "----- $log (last 40 lines)"
        tail -n 40 "$log"
    done
}

finish() {
    local status=$?
    if [ "$ok" -ne 1 ]; then
        say "FAILED (exit $status); the cluster's logs follow"
        show_logs
    fi
    cancel_jobs
    stop_daemons
    rm -rf "$dir"
    if [ "$ok" -ne 1 ] && [ "$status" -eq 0 ]; then
        status=1
    fi
    exit "$status"
}
trap finish EXIT

fail() {
    say "$*"
    exit 1
}

# poll SECONDS DESCRIPTION COMMAND...: runs COMMAND every 0.1 s until it succeeds; fails the
# check with DESCRIPTION when SECONDS pass first.
poll() {
    local limit=$1 what=$2 deadline
    shift 2
    deadline=$(($(date +%s%N) + limit * 1000000000))
    until "$@"; do
        if [ "$(date +%s%N)" -gt "$deadline" ]; then
            fail "timed out after ${limit}s waiting for $what"
        fi
        sleep 0.1
    done
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

node=$(uname -n)
node=${node%%.*}
ctld_port=$(free_port)
slurmd_port=$(free_port)
while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done

dd if=/dev/urandom of="$dir/key/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/key/munge.key"
munged -F --socket="$dir/munge/munge.socket.2" --key-file="$dir/key/munge.key" \
    --log-file="$dir/munge/munged.log" --pid-file="$dir/munge/munged.pid" \
    --seed-file="$dir/munge/munged.seed" >"$dir/log/munged.out" 2>&1 &
daemons+=("munged $!")
poll 10 "munged's socket" test -S "$dir/munge/munge.socket.2"

cat >"$SLURM_CONF" <<EOF
ClusterName=supervisor-e2e
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket.2
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=batch_sched_delay=0
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
KillWait=5
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=e2e Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF

phase=$(date +%s.%N)
slurmctld -D -c -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1 &
daemons+=("slurmctld $!")
slurmd -D -f "$SLURM_CONF" -N "$node" >"$dir/log/slurmd.out" 2>&1 &
daemons+=("slurmd $!")
node_idle() { [ "$(sinfo -h -N -o %T 2>/dev/null)" = idle ]; }
poll 30 "sinfo to show node $node idle" node_idle
up_s=$(elapsed "$phase")
say "cluster up (${daemons[*]}): node $node idle after $up_s s"

queue_empty() { [ -z "$(squeue -h -o %i 2>/dev/null)" ]; }
job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1; }
completed() { [ "$(job_state "$1")" = COMPLETED ]; }

# --- 1: a hash run as a 3-task array and a dependent merge ------------------------------------
phase=$(date +%s.%N)
tree=$dir/tree
python3 scripts/make-tree.py "$tree" --files 400 --total-mb 8 --seed 12 >/dev/null
# Awkward names too: the merge must keep md5sum's escaping.
printf 'a\n' >"$tree/new"$'\n'"line"
printf 'b\n' >"$tree/back\\slash"
"$supervisor" run -q --format sums hash "$tree" >"$dir/one.sums" \
    || fail "the one run to compare with failed"

out1=$dir/run1
cd "$dir/jobs"
read -r array merge < <(OUT=$out1 SUPERVISOR=$supervisor FORMAT=sums \
    SBATCH_ARGS="--chdir=$dir/jobs" "$repo/deploy/slurm/submit.sh" 3 hash "$tree")
cd "$repo"
[ -n "${merge:-}" ] || fail "deploy/slurm/submit.sh did not submit the array and the merge"
say "submitted array $array (3 partitions of hash) and merge $merge (afterok)"
poll 120 "the array and its merge to leave the queue" queue_empty
for task in 1 2 3; do
    completed "${array}_$task" || fail "array task ${array}_$task ended $(job_state "${array}_$task")"
done
completed "$merge" || fail "merge job $merge ended $(job_state "$merge")"
cmp "$dir/one.sums" "$out1/merged.sums" || fail "the merged sums differ from one run's"
for task in 1 2 3; do
    grep -q "\"partition\":$task,\"partitions\":3" "$out1/part-$task.jsonl" \
        || fail "part-$task.jsonl is not partition $task/3"
    grep -q "SLURM_ARRAY_TASK_ID=$task" "$out1/part-$task.jsonl" \
        || fail "part-$task.jsonl does not say it came from Slurm's variables"
done
phase1_s=$(elapsed "$phase")
say "phase 1: merged output of 3 array tasks = one run ($(wc -l <"$dir/one.sums") files), $phase1_s s"

# --- 2: a task cancelled mid-run, its index rerun ---------------------------------------------
# The job's tasks sleep, so a partition runs for seconds: long enough to be cancelled after it
# has journaled results. Should a heavily loaded machine let task 2 finish before the cancel
# lands, the phase is run again with tasks three times as long (and then fails).
cancel_and_rerun() { # SLEEP_MS RUN: returns 3 when task 2 finished before it was cancelled
    local sleep_ms=$1 run=$2
    local slow=(fault --tasks 120 --sleep-ms "$sleep_ms")
    # The one run to compare with, alongside (its tasks mostly sleep).
    "$supervisor" run -q --format json -w 2 "${slow[@]}" >"$dir/one.json" &
    local one=$!
    out2=$dir/$run
    mkdir -p "$out2"
    array=$(sbatch --parsable --chdir="$dir/jobs" --array=1-3 \
        --export="ALL,OUT=$out2,PARTITIONS=3,SUPERVISOR=$supervisor" \
        "$repo/deploy/slurm/partition.sbatch" --workers 1 "${slow[@]}")
    array=${array%%;*}
    [ -n "$array" ] || fail "sbatch did not submit the array"
    poll 60 "array task 2 to journal a result" journaled
    workers=$(task2_workers)
    scancel "${array}_2" || fail "scancel ${array}_2 failed"
    poll 30 "task ${array}_2 to end" ended "${array}_2"
    if [ "$(job_state "${array}_2")" = COMPLETED ]; then
        say "task ${array}_2 finished before the cancel reached it (a loaded machine)"
        poll 120 "array $array to leave the queue" queue_empty
        wait "$one" || true
        return 3
    fi
    [ "$(job_state "${array}_2")" = CANCELLED ] \
        || fail "task ${array}_2 ended $(job_state "${array}_2"), not CANCELLED"
    [ -n "$workers" ] || fail "array task 2 had no workers to watch"
    poll 15 "the workers of the cancelled task ($(echo $workers)) to be gone" gone
    say "cancelled ${array}_2 mid-run; its workers ($(echo $workers)) are gone"
    # Rerun that index within the array (a lone `sbatch --array=2` would be a 1-task array,
    # which --partitions 3 refuses): requeue it, and let it start now, not after Slurm's delay.
    scontrol requeue "${array}_2" || fail "scontrol requeue ${array}_2 failed"
    poll 30 "task ${array}_2 to be queued again" pending "${array}_2"
    scontrol update jobid="${array}_2" StartTime=now \
        || fail "scontrol update jobid=${array}_2 StartTime=now failed"
    # A cancelled task makes afterok on the whole array unsatisfiable (a node failure under
    # --requeue does not), so this merge waits for each task by name, the rerun one included.
    merge=$(sbatch --parsable --chdir="$dir/jobs" \
        --dependency="afterok:${array}_1:${array}_2:${array}_3" \
        --export="ALL,OUT=$out2,SUPERVISOR=$supervisor,FORMAT=json" \
        "$repo/deploy/slurm/merge.sbatch")
    merge=${merge%%;*}
    [ -n "$merge" ] || fail "sbatch did not submit the merge"
    poll 120 "the rerun task and the merge to leave the queue" queue_empty
    for task in 1 2 3; do
        completed "${array}_$task" \
            || fail "array task ${array}_$task ended $(job_state "${array}_$task")"
    done
    completed "$merge" || fail "merge job $merge ended $(job_state "$merge")"
    wait "$one" || fail "the one run to compare with failed"
    python3 - "$dir/one.json" "$out2/merged.json" "$out2/part-2.jsonl" <<'PY' \
        || fail "the merge after the rerun differs from one run"
import json, sys
one, merged = (json.load(open(p)) for p in sys.argv[1:3])
assert merged["results"] == one["results"], "results differ"
assert len(one["results"]) == 120
for key in ("tasks", "ok", "failed", "not_run"):
    assert merged["summary"][key] == one["summary"][key], key
last = open(sys.argv[3]).read().splitlines()[-1]
resumed = json.loads(last)["summary"].get("resumed", 0)
assert resumed > 0, "the rerun did not resume from the journal"
print(f"slurm-e2e: the rerun of task 2 resumed {resumed} results from its journal")
PY
}
# The workers of array task 2: supervisor workers whose environment is that task's.
task2_workers() {
    local proc cmd env
    for proc in /proc/[0-9]*; do
        cmd=$({ tr '\0' ' ' <"$proc/cmdline"; } 2>/dev/null || true)
        [[ $cmd == *__supervisor_worker* ]] || continue
        env=$({ tr '\0' '\n' <"$proc/environ"; } 2>/dev/null || true)
        if grep -qx "SLURM_ARRAY_JOB_ID=$array" <<<"$env" \
            && grep -qx "SLURM_ARRAY_TASK_ID=2" <<<"$env"; then
            echo "${proc#/proc/}"
        fi
    done
}
journaled() { [ "$(stat -c %s "$out2/part-2.journal" 2>/dev/null || echo 0)" -gt 56 ]; }
gone() {
    local pid
    for pid in $workers; do
        [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] && return 1
    done
    return 0
}
ended() { case $(job_state "$1") in COMPLETED | CANCELLED | FAILED | TIMEOUT) ;; *) return 1 ;; esac; }
pending() { [ "$(job_state "$1")" = PENDING ]; }

phase=$(date +%s.%N)
status=0
cancel_and_rerun 60 run2 || status=$?
if [ "$status" -eq 3 ]; then
    status=0
    cancel_and_rerun 180 run2-again || status=$?
fi
[ "$status" -eq 0 ] || fail "task 2 kept finishing before it could be cancelled"
phase2_s=$(elapsed "$phase")
say "phase 2: cancel + rerun of one index merges to one run's results, $phase2_s s"

ok=1
say "passed in $(elapsed "$started") s (install $install_s s, cluster up $up_s s, phase 1 $phase1_s s, phase 2 $phase2_s s)"
