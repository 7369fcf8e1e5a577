#!/usr/bin/env bash
# Runs every example of examples/ (the seed article's multiprocessing code on supervisor-mp)
# with fixed arguments and checks its output for the lines it must print. Exits non-zero,
# naming the example, on any failure or mismatch. Timing lines are printed, not checked.
set -uo pipefail
cd "$(dirname "$0")/.."

cargo build -q --examples --locked || { echo "examples: build failed"; exit 1; }
# The examples of the supervisor-mp crate itself (crates/mp/examples).
cargo build -q --examples --locked -p supervisor-mp || { echo "examples: build failed (supervisor-mp)"; exit 1; }

failures=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# run NAME [ARGS...]: runs the example into $out; a non-zero exit is a failure. With $pkg set,
# the example of that workspace package.
pkg=
run() {
    local name=$1
    shift
    current=$name
    if ! timeout 300 cargo run -q --locked ${pkg:+-p "$pkg"} --example "$name" -- "$@" >"$out" 2>&1; then
        echo "FAIL $name: exited non-zero"
        sed 's/^/    /' "$out"
        failures=$((failures + 1))
        return 1
    fi
}

# run_mp NAME [ARGS...]: like run, for an example of crates/mp (package supervisor-mp).
run_mp() {
    local name=$1
    shift
    current=$name
    if ! timeout 300 cargo run -q --locked -p supervisor-mp --example "$name" -- "$@" >"$out" 2>&1; then
        echo "FAIL $name: exited non-zero"
        sed 's/^/    /' "$out"
        failures=$((failures + 1))
        return 1
    fi
}

# expect LINE...: each must be a whole line of the output (fixed string).
expect() {
    local line
    for line in "$@"; do
        if ! grep -qxF -- "$line" "$out"; then
            echo "FAIL $current: missing line: $line"
            failures=$((failures + 1))
        fi
    done
}

# expect_re REGEX...: each extended regex must match a whole line of the output.
expect_re() {
    local re
    for re in "$@"; do
        if ! grep -qxE -- "$re" "$out"; then
            echo "FAIL $current: no line matches: $re"
            failures=$((failures + 1))
        fi
    done
}

# expect_count N LINE: LINE appears exactly N times.
expect_count() {
    local n
    n=$(grep -cxF -- "$2" "$out")
    if [ "$n" != "$1" ]; then
        echo "FAIL $current: '$2' printed $n times, expected $1"
        failures=$((failures + 1))
    fi
}

n_checked=0
checked() { echo "ok   $current"; n_checked=$((n_checked + 1)); }

if run basic_process Worker-1; then
    before=$failures
    expect_re 'process Worker-1 started: pid [1-9][0-9]*, alive true'
    expect "result: Worker-1 done" \
        "ran in the spawned process: true" \
        "ran in this process: false" \
        "process Worker-1 exitcode: 0" \
        "process Worker-1 alive after join: false" \
        "exit_with(3): exited with status 3" \
        "exit_with(3) exitcode: 3"
    [ "$failures" = "$before" ] && checked
fi

if run cpu_pool --scale 10000; then
    before=$failures
    expect "scale: 10000" \
        "cpu_bound_task(100) = 333332833333500000" \
        "cpu_bound_task(200) = 2666664666667000000" \
        "cpu_bound_task(300) = 8999995500000500000" \
        "cpu_bound_task(400) = 21333325333334000000" \
        "cpu_bound_task(500) = 41666654166667500000" \
        "pool == sequential: true" \
        "results == closed form: true"
    expect_re 'sequential: [0-9]+\.[0-9]{3} s' 'pool of [0-9]+ processes: [0-9]+\.[0-9]{3} s' \
        'speedup: [0-9]+\.[0-9]{2}x'
    [ "$failures" = "$before" ] && checked
fi

if run log_files; then
    before=$failures
    expect "app.log: 4 errors, 2 warnings" \
        "db.log: 0 errors, 5 warnings" \
        "empty.log: 0 errors, 0 warnings" \
        "files: 3" \
        "total errors: 4" \
        "total warnings: 7"
    # notes.txt is not a *.log file.
    if grep -q notes.txt "$out"; then
        echo "FAIL log_files: counted notes.txt"
        failures=$((failures + 1))
    fi
    [ "$failures" = "$before" ] && checked
fi

if run server_checks; then
    before=$failures
    expect_re '127\.0\.0\.1:[0-9]+ UP' '127\.0\.0\.1:[0-9]+ DOWN \(connection refused\)' \
        'checked 2 targets in [0-9]+\.[0-9]{3} s'
    [ "$failures" = "$before" ] && checked
fi

if run file_hashing; then
    before=$failures
    expect "files found: 4" \
        "big.bin: d1dd210d6b1312cb342b56d02bd5e651 (3145728 bytes)" \
        "sub/deep/c.py: 587de76529284d0daf8eb02b14b10712 (12 bytes)" \
        "a.txt: b1946ac92492d2347c6235b4d2611184 (6 bytes)" \
        "sub/b.log: d41d8cd98f00b204e9800998ecf8427e (0 bytes)" \
        "total size: 3145746 bytes (3.00 MB)"
    # Largest first.
    order=$(grep -oE '^[a-z/.]+: [0-9a-f]{32}' "$out" | cut -d: -f1 | tr '\n' ' ')
    if [ "$order" != "big.bin sub/deep/c.py a.txt sub/b.log " ]; then
        echo "FAIL file_hashing: wrong order: $order"
        failures=$((failures + 1))
    fi
    [ "$failures" = "$before" ] && checked
fi

if run executor; then
    before=$failures
    expect "max_workers: 3" \
        "completed: work(1) = 1" "completed: work(2) = 4" "completed: work(3) = 9" \
        "completed: work(4) = 16" "completed: work(5) = 25" \
        "future work(1): ok 1" "future work(2): ok 4" "future work(3): ok 9" \
        "future work(13): failed: killed by SIGABRT" \
        "future work(4): ok 16" "future work(5): ok 25" \
        "failed futures: 1 of 6" \
        "map(work, [6, 7, 8]): 36 49 64" \
        "shut down"
    expect_count 1 "completed: a call failed: killed by SIGABRT"
    [ "$failures" = "$before" ] && checked
fi

if run monitoring; then
    before=$failures
    expect_re 'worker-1: pid [1-9][0-9]* alive true' 'worker-2: pid [1-9][0-9]* alive true' \
        'worker-3: pid [1-9][0-9]* alive true' 'sleeper: pid [1-9][0-9]* alive true'
    expect "worker-1: ended, exitcode 0 alive false result Ok(500)" \
        "worker-2: ended, exitcode 0 alive false result Ok(800)" \
        "worker-3: ended, exitcode 0 alive false result Ok(1100)" \
        "failing: exited with status 2 (ended, exitcode 2)" \
        "sleeper: killed by SIGTERM (ended, exitcode -15)"
    # Per-process resources while running (psutil's memory_info / cpu_times): values vary.
    expect_re 'worker-1: pid [1-9][0-9]* rss [0-9]+\.[0-9] MiB cpu [0-9]+ ms' \
        'worker-2: pid [1-9][0-9]* rss [0-9]+\.[0-9] MiB cpu [0-9]+ ms' \
        'worker-3: pid [1-9][0-9]* rss [0-9]+\.[0-9] MiB cpu [0-9]+ ms' \
        'sleeper: pid [1-9][0-9]* rss [0-9]+\.[0-9] MiB cpu [0-9]+ ms'
    [ "$failures" = "$before" ] && checked
fi

if run queue_producer_consumer; then
    before=$failures
    expect "produced: Producer-1-item-0" "produced: Producer-1-item-1" \
        "produced: Producer-1-item-2" "produced: Producer-1-item-3" \
        "produced: Producer-1-item-4" \
        "produced: 5" \
        "consumed: 5" \
        "consumed == produced: true" \
        "increments: 2 processes x 50 = 100" \
        "final count: 100" \
        "count == increments: true"
    # Consumed in the order produced.
    order=$(grep -oE '^Consumer-1 processed: .*' "$out" | sed 's/^Consumer-1 processed: //' | tr '\n' ' ')
    want="Producer-1-item-0 Producer-1-item-1 Producer-1-item-2 Producer-1-item-3 Producer-1-item-4 "
    if [ "$order" != "$want" ]; then
        echo "FAIL queue_producer_consumer: consumed: $order"
        failures=$((failures + 1))
    fi
    [ "$failures" = "$before" ] && checked
fi

if run manager_shared; then
    before=$failures
    expect "dict: Worker-0 => Result from Worker-0" \
        "dict: Worker-1 => Result from Worker-1" \
        "dict: Worker-2 => Result from Worker-2" \
        "dict: Worker-3 => Result from Worker-3" \
        "list: Entry from Worker-0" "list: Entry from Worker-1" \
        "list: Entry from Worker-2" "list: Entry from Worker-3" \
        "dict entries: 4" \
        "list entries: 4"
    [ "$failures" = "$before" ] && checked
fi

if run_mp persistent_pool; then
    before=$failures
    expect "map 1: [0, 1, 4, 9, 16, 25, 36, 49], initialized: true" \
        "map 2: [0, 1, 4, 9, 16, 25, 36, 49], initialized: true" \
        "map 3: [0, 1, 4, 9, 16, 25, 36, 49], initialized: true" \
        "workers: 2" \
        "worker pids stable: true" \
        "starmap(add, [(1, 2), (3, 4)]) = [3, 7]" \
        "imap in input order: [300, 200, 100, 0]" \
        "callback: 49" \
        "map_async(..).get(timeout=0.1) timed out: true" \
        "after close: Pool not running: it was closed or terminated and takes no more calls" \
        "joined: the pending call ended: true" \
        "workers left: 0"
    # The initializer ran once in each of the two workers (their output reaches ours).
    n=$(grep -cE '^initializer ran in worker [1-9][0-9]*$' "$out")
    if [ "$n" != 2 ]; then
        echo "FAIL persistent_pool: the initializer ran $n times, expected 2"
        failures=$((failures + 1))
    fi
    [ "$failures" = "$before" ] && checked
fi

if run shared_memory; then
    before=$failures
    expect "segment size: 108 bytes" \
        "owner: true" \
        "/dev/shm/NAME exists while owned: true" \
        "child saw size: 108" \
        "message from child: hello from child pid PID" \
        "message names the child's pid: true" \
        "numbers from child: 0 1 4 9 16 25 36 49 64 81" \
        "sum: 285" \
        "/dev/shm/NAME exists after drop: false" \
        "open after drop fails: true"
    [ "$failures" = "$before" ] && checked
fi

if pkg=supervisor-mp run sync_primitives; then
    before=$failures
    expect "barrier indices: [0, 1, 2, 3]" \
        "counter: 40000 (4 processes x 10000)" \
        "counter == expected: true" \
        "squares: [0.0, 1.0, 4.0, 9.0]" \
        "squares[1..3]: [1.0, 4.0]" \
        "semaphore value after: 2" \
        "bounded over-release: semaphore or lock released too many times" \
        "condition waiter saw: 1" \
        "lock free while held elsewhere: false" \
        "after SIGKILL of the holder: acquired, abandoned" \
        "next acquire: true" \
        "value lock held elsewhere times out: true"
    [ "$failures" = "$before" ] && checked
fi

if pkg=supervisor-mp run queues_manager; then
    before=$failures
    expect "all jobs done: unfinished 0" \
        "result: 1^2 = 1" "result: 2^2 = 4" "result: 3^2 = 9" "result: 4^2 = 16" \
        "result: 5^2 = 25" "result: 6^2 = 36" "result: 7^2 = 49" "result: 8^2 = 64" \
        "result: 9^2 = 81" "result: 10^2 = 100" \
        "dict entries: 10" \
        "dict matches results: true" \
        "value == jobs done by the worker it counts: true" \
        "holder: killed by SIGKILL" \
        "abandoned jobs: 1" \
        "queue still empty: true"
    [ "$failures" = "$before" ] && checked
fi

if [ "$failures" -ne 0 ]; then
    echo "examples: $failures check(s) failed"
    exit 1
fi
echo "examples: all $n_checked checked"
