#!/usr/bin/env python3
"""The cost of Python's multiprocessing.Pool itself: Pool.map of a trivial function.

    scripts/trivial_pool.py N [--chunksize default|1|both] [--processes P]

Maps `square` (x*x) over range(N) with a Pool of os.cpu_count() processes, with the default
chunksize (N / (4 × processes), rounded up) and/or chunksize=1 (one IPC round trip per task).
The time includes starting and stopping the pool, as a CLI run does. Prints one line per mode:
`MODE: T s, R tasks/s`.
"""
import argparse
import multiprocessing
import os
import time


def square(x):
    return x * x


def run(n, processes, chunksize):
    start = time.perf_counter()
    with multiprocessing.Pool(processes=processes) as pool:
        out = pool.map(square, range(n), chunksize=chunksize)
    elapsed = time.perf_counter() - start
    assert len(out) == n and out[-1] == (n - 1) ** 2
    return elapsed


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("n", type=int)
    p.add_argument("--chunksize", choices=["default", "1", "both"], default="both")
    p.add_argument("--processes", type=int, default=os.cpu_count())
    a = p.parse_args()
    modes = ["default", "1"] if a.chunksize == "both" else [a.chunksize]
    for mode in modes:
        t = run(a.n, a.processes, None if mode == "default" else 1)
        print(f"chunksize={mode}: {t:.3f} s, {a.n / t:,.0f} tasks/s", flush=True)


if __name__ == "__main__":
    main()
