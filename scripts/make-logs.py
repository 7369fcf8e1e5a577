#!/usr/bin/env python3
"""Generate a deterministic set of log files with known ERROR/WARNING counts.

    scripts/make-logs.py DIR [--files N] [--total-mb MB] [--seed S]

Writes DIR/appNN.log and DIR/expected.json: per file, lines and the count for each pattern
under the seed's rule (a line counts for ERROR if it contains it, else for WARNING).
"""
import argparse
import json
import os
import random

LEVELS = ["INFO", "DEBUG", "INFO", "INFO", "WARNING", "ERROR", "INFO", "DEBUG"]
WORDS = "request served user session cache miss retry upstream timeout disk queue worker".split()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir")
    p.add_argument("--files", type=int, default=40)
    p.add_argument("--total-mb", type=float, default=950)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.dir, exist_ok=True)
    # A pool of distinct lines, reused in random order: fast to write, still realistic.
    pool = []
    for i in range(4096):
        level = rng.choice(LEVELS)
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 16)))
        if rng.random() < 0.02:
            text += " followed by WARNING"  # both words: counts once, for ERROR if present
        line = f"2026-11-26T12:{i % 60:02d}:{i % 59:02d}Z {level} [{i % 97}] {text}\n".encode()
        pool.append(line)
    per_file = int(a.total_mb * 1024 * 1024 / a.files)
    expected = {}
    for f in range(a.files):
        name = os.path.join(a.dir, f"app{f:02d}.log")
        lines = errors = warnings = size = 0
        chunk = []
        with open(name, "wb") as out:
            while size < per_file:
                line = pool[rng.randrange(len(pool))]
                chunk.append(line)
                size += len(line)
                lines += 1
                if b"ERROR" in line:
                    errors += 1
                elif b"WARNING" in line:
                    warnings += 1
                if len(chunk) >= 4096:
                    out.write(b"".join(chunk))
                    chunk.clear()
            out.write(b"".join(chunk))
        expected[name] = {"lines": lines, "counts": {"ERROR": errors, "WARNING": warnings}}
    with open(os.path.join(a.dir, "expected.json"), "w") as out:
        json.dump(expected, out, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
