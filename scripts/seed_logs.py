#!/usr/bin/env python3
"""The seed article's parallel log counter, re-written for benchmarks (not copied).

    scripts/seed_logs.py DIR [--processes N] [--strict]

As in the seed: the `*.log` files directly in DIR (`Path.glob`, not recursive) are mapped by a
`multiprocessing.Pool` (`pool.map`, default chunksize) to a function that opens each file as
UTF-8 text and iterates over it line by line: a line containing 'ERROR' counts as an error,
else one containing 'WARNING' as a warning. Prints files processed, the totals, then per file
`PATH: E errors, W warnings` for files with any.

Differences from the seed, noted:
- --processes defaults to the seed's `max(1, os.cpu_count() - 1)` ("leave one core for the
  system"); scripts/bench.sh runs it so for its goal row, and with --processes $(nproc) too.
- The file is decoded with errors='replace': with the seed's strict decoding a single invalid
  byte raises, and the seed then reports 0 errors / 0 warnings for the whole file. --strict
  restores that. (The benchmark logs are ASCII, so this changes nothing there.)
- Python's text mode splits lines at '\\r' too (universal newlines); byte-oriented counters
  split at '\\n' only. Irrelevant for the benchmark logs, which have no '\\r'.
"""
import argparse
import multiprocessing
import os
import sys
from pathlib import Path

ERRORS = "replace"


def count_file(path):
    errors = warnings = 0
    try:
        with open(path, "r", encoding="utf-8", errors=ERRORS) as f:
            for line in f:
                if "ERROR" in line:
                    errors += 1
                elif "WARNING" in line:
                    warnings += 1
    except Exception as e:
        print(f"error processing {path}: {e}", file=sys.stderr)
        return str(path), 0, 0
    return str(path), errors, warnings


def init(errors_mode):
    global ERRORS
    ERRORS = errors_mode


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("directory")
    p.add_argument("--processes", type=int, default=max(1, (os.cpu_count() or 1) - 1))
    p.add_argument("--strict", action="store_true", help="strict UTF-8, as the seed")
    a = p.parse_args()
    files = sorted(Path(a.directory).glob("*.log"))
    if not files:
        sys.exit("no log files found")
    mode = "strict" if a.strict else "replace"
    with multiprocessing.Pool(processes=a.processes, initializer=init, initargs=(mode,)) as pool:
        results = pool.map(count_file, files)
    print(f"files processed: {len(results)}")
    print(f"total errors: {sum(r[1] for r in results)}")
    print(f"total warnings: {sum(r[2] for r in results)}")
    for path, errors, warnings in results:
        if errors or warnings:
            print(f"{path}: {errors} errors, {warnings} warnings")


if __name__ == "__main__":
    main()
