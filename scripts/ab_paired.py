#!/usr/bin/env python3
"""Paired A/B timing of two shell commands: what one change costs, on a noisy machine.

    python3 scripts/ab_paired.py ROUNDS 'BASE COMMAND' 'TEST COMMAND'

Each round runs both commands, the order alternating from round to round, and takes the ratio
of TEST to BASE for wall time and for CPU time (user + sys of the command and everything it
waited for). Prints the mean ratio with its 95% interval, the median ratio and the ratio of the
medians. A paired ratio cancels the drift of a shared VM between rounds, which a ratio of two
medians measured apart does not. A command that fails stops the script.

Example (the event log's cost, README): ROUNDS 61, BASE `supervisor run -w 2 --format sums
hash TREE`, TEST the same with `--events /tmp/events.jsonl`.
"""
import math
import os
import statistics
import subprocess
import sys
import time


def run(command):
    start = time.perf_counter()
    child = subprocess.Popen(command, shell=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        sys.exit(f"ab_paired.py: {command!r} failed (wait status {status})")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def interval(ratios):
    mean = statistics.mean(ratios)
    half = 1.96 * statistics.stdev(ratios) / math.sqrt(len(ratios))
    return mean, mean - half, mean + half


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    rounds, base, test = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    if rounds < 2:
        sys.exit("ab_paired.py: ROUNDS must be at least 2")
    walls, cpus, base_walls, test_walls = [], [], [], []
    for n in range(rounds):
        if n % 2 == 0:
            b, t = run(base), run(test)
        else:
            t, b = run(test), run(base)
        walls.append(t[0] / b[0])
        if b[1] > 0:  # a command too short to be charged a tick has no CPU ratio
            cpus.append(t[1] / b[1])
        base_walls.append(b[0])
        test_walls.append(t[0])
    base_median, test_median = statistics.median(base_walls), statistics.median(test_walls)
    print(f"rounds {rounds}: base median {base_median:.4f} s, test median {test_median:.4f} s")
    mean, low, high = interval(walls)
    print(f"wall ratio: mean {mean:.4f} (95% interval {low:.4f}-{high:.4f}), "
          f"median {statistics.median(walls):.4f}, ratio of medians {test_median / base_median:.4f}")
    if len(cpus) < 2:
        print("cpu ratio:  too few rounds with CPU time to compare")
        return
    mean, low, high = interval(cpus)
    print(f"cpu ratio:  mean {mean:.4f} (95% interval {low:.4f}-{high:.4f}), "
          f"median {statistics.median(cpus):.4f}")


if __name__ == "__main__":
    main()
