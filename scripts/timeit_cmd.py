#!/usr/bin/env python3
"""Time shell commands, alternating them round by round, and report medians.

    scripts/timeit_cmd.py [--runs N] [--warmup K] [--store FILE] NAME=COMMAND [NAME=COMMAND ...]
    scripts/timeit_cmd.py --store FILE --put NAME=VALUE [NAME=VALUE ...]

Each COMMAND is run by bash. After K untimed warm-up runs of every command, N rounds follow;
each round runs every command once, in an order rotated by one per round, so slow drifts of the
machine (other processes, frequency changes) hit all commands alike. A command that exits
non-zero stops everything with its stderr (a benchmark of a failing command is worthless).

Prints one line per command (the median and minimum wall time, the median CPU time of the
command and all its reaped descendants (user + sys, from getrusage, and each apart), every wall
time); with --store, merges {NAME: {"median": s, "min": s, "times": [...], "cpu_median": s,
"cpu": [...], "user_median": s, "sys_median": s, "cmd": COMMAND}} into the JSON file FILE. CPU time hardly changes when other processes compete
for the cores, wall time does: compare both on a busy machine.
--put stores plain values ({"value": v}) in the same file, for numbers measured otherwise.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time


def children_cpu() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime, r.ru_stime


def run_once(name: str, cmd: str) -> tuple[float, float, float]:
    """(wall seconds, user and system CPU seconds of the command and every descendant that was
    reaped)."""
    user0, sys0 = children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(["bash", "-c", cmd], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    user1, sys1 = children_cpu()
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode(errors="replace")[-4000:])
        sys.exit(f"timeit_cmd: {name} failed with exit status {proc.returncode}: {cmd}")
    return elapsed, user1 - user0, sys1 - sys0


def load(path: str) -> dict:
    if path and os.path.exists(path) and os.path.getsize(path) > 0:
        with open(path) as f:
            return json.load(f)
    return {}


def save(path: str, data: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def split(spec: str) -> tuple[str, str]:
    name, sep, rest = spec.partition("=")
    if not sep or not name:
        sys.exit(f"timeit_cmd: expected NAME=COMMAND, got {spec!r}")
    return name, rest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--store", help="JSON file to merge the results into")
    p.add_argument("--put", action="store_true", help="store NAME=VALUE numbers, time nothing")
    p.add_argument("specs", nargs="+", metavar="NAME=COMMAND")
    a = p.parse_args()
    specs = [split(s) for s in a.specs]
    data = load(a.store)

    if a.put:
        for name, value in specs:
            data[name] = {"value": float(value)}
        if a.store:
            save(a.store, data)
        return

    for _ in range(a.warmup):
        for name, cmd in specs:
            run_once(name, cmd)
    times: dict[str, list[float]] = {name: [] for name, _ in specs}
    users: dict[str, list[float]] = {name: [] for name, _ in specs}
    syss: dict[str, list[float]] = {name: [] for name, _ in specs}
    for r in range(a.runs):
        k = r % len(specs)
        for name, cmd in specs[k:] + specs[:k]:
            wall, user, system = run_once(name, cmd)
            times[name].append(wall)
            users[name].append(user)
            syss[name].append(system)
    width = max(len(name) for name, _ in specs)
    for name, cmd in specs:
        t = times[name]
        med = statistics.median(t)
        cpus = [u + s for u, s in zip(users[name], syss[name])]
        cpu = statistics.median(cpus)
        user, system = statistics.median(users[name]), statistics.median(syss[name])
        print(f"  {name:<{width}}  median {med:8.3f} s  min {min(t):8.3f} s  cpu {cpu:7.3f} s "
              f"(user {user:.3f}, sys {system:.3f})  [{' '.join(f'{x:.3f}' for x in t)}]",
              flush=True)
        data[name] = {"median": med, "min": min(t), "times": t, "cpu_median": cpu, "cpu": cpus,
                      "user_median": user, "sys_median": system, "cmd": cmd}
    if a.store:
        save(a.store, data)


if __name__ == "__main__":
    main()
