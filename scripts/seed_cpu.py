#!/usr/bin/env python3
"""The seed article's CPU benchmark, re-written for benchmarks (not copied).

    scripts/seed_cpu.py [--scale S] [--tasks 100,200,300,400,500] [--processes N]

cpu_bound_task(n) sums i*i for i in range(n * S) in a plain Python loop (S = 1,000,000 in the
seed, which takes minutes in CPython: scripts/bench.sh passes a smaller --scale; the speedup
hardly depends on it). The tasks run once sequentially and once with `Pool(os.cpu_count()).map`
(default chunksize, so tasks are handed out in list order), as the seed does. Prints both
times, the speedup, and `speedup: X` as the last line; exits 1 if the results differ.
"""
import argparse
import multiprocessing
import os
import sys
import time

SCALE = 1_000_000


def cpu_bound_task(n):
    result = 0
    for i in range(n * SCALE):
        result += i * i
    return result


def init(scale):
    global SCALE
    SCALE = scale


def main():
    global SCALE
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=int, default=1_000_000)
    p.add_argument("--tasks", default="100,200,300,400,500")
    p.add_argument("--processes", type=int, default=os.cpu_count())
    a = p.parse_args()
    SCALE = a.scale
    tasks = [int(t) for t in a.tasks.split(",")]

    start = time.perf_counter()
    sequential = [cpu_bound_task(t) for t in tasks]
    seq = time.perf_counter() - start
    print(f"sequential: {seq:.3f} s")

    start = time.perf_counter()
    with multiprocessing.Pool(processes=a.processes, initializer=init, initargs=(a.scale,)) as pool:
        parallel = pool.map(cpu_bound_task, tasks)
    par = time.perf_counter() - start
    print(f"multiprocessing ({a.processes} processes): {par:.3f} s")
    if parallel != sequential:
        sys.exit("results differ")
    print(f"speedup: {seq / par:.3f}")


if __name__ == "__main__":
    main()
