#!/usr/bin/env python3
"""Run programs that print `key=value` measurements (seconds), alternating them round by round,
and store the median of each key: the library rows of scripts/bench.sh, where the timing
happens inside each program (after its pool has started), not around the command.

    scripts/mp_bench_compare.py --runs N --store FILE NAME=COMMAND [NAME=COMMAND ...]

Each COMMAND is run by bash, N times, in an order rotated by one per round; every `key=value`
line it prints is collected, and the median per key is merged into the JSON store of
scripts/timeit_cmd.py as `NAME_key` = {"value": median, "values": [...]} (read by
bench_table.py as `v:NAME_key`). A command that exits non-zero stops everything with its
stderr.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--store", required=True)
    parser.add_argument("commands", nargs="+", metavar="NAME=COMMAND")
    args = parser.parse_args()
    commands = [c.split("=", 1) for c in args.commands]
    values: dict[str, list[float]] = {}
    for round_no in range(args.runs):
        k = round_no % len(commands)
        for name, cmd in commands[k:] + commands[:k]:
            proc = subprocess.run(["bash", "-c", cmd], stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-4000:])
                sys.exit(f"mp_bench_compare: {name} failed with status {proc.returncode}: {cmd}")
            for line in proc.stdout.splitlines():
                key, sep, value = line.partition("=")
                if sep:
                    values.setdefault(f"{name}_{key.strip()}", []).append(float(value))
    store = {}
    if os.path.exists(args.store) and os.path.getsize(args.store) > 0:
        with open(args.store) as f:
            store = json.load(f)
    for key, vs in sorted(values.items()):
        median = statistics.median(vs)
        store[key] = {"value": median, "values": vs}
        print(f"  {key:<28} median {median * 1e3:10.3f} ms   runs: "
              + " ".join(f"{v * 1e3:.3f}" for v in vs))
    tmp = args.store + ".tmp"
    with open(tmp, "w") as f:
        json.dump(store, f, indent=1, sort_keys=True)
    os.replace(tmp, args.store)


if __name__ == "__main__":
    main()
