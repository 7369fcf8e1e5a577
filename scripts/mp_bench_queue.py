#!/usr/bin/env python3
"""Queue and Manager throughput in CPython's multiprocessing: the same programs as
crates/mp/examples/bench_queue.rs, for scripts/bench.sh's "library vs CPython multiprocessing"
rows.

    python3 scripts/mp_bench_queue.py queue 100000
    python3 scripts/mp_bench_queue.py manager 10000

queue N: a child process puts the ints 0..N on a Queue, the parent gets them; timed from the
child's start to its join. manager N: a child process does d[f"k{i}"] = i for i in 0..N on a
Manager dict; timed from the child's start to its join (the manager is started before). Each
prints one line `NAME: N in S s = R/s` and checks what arrived. The start method is the
platform's default (fork on Linux).
"""
import multiprocessing as mp
import sys
import time


def produce(queue, n):
    for i in range(n):
        queue.put(i)


def set_items(d, n):
    for i in range(n):
        d[f"k{i}"] = i


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "queue"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    if what == "queue":
        queue = mp.Queue()
        start = time.perf_counter()
        child = mp.Process(target=produce, args=(queue, n))
        child.start()
        total = 0
        for _ in range(n):
            total += queue.get()
        child.join()
        secs = time.perf_counter() - start
        assert total == n * (n - 1) // 2, "items lost or changed"
        print(f"queue: {n} items in {secs:.4f} s = {n / secs:.0f}/s")
    elif what == "manager":
        with mp.Manager() as manager:
            d = manager.dict()
            start = time.perf_counter()
            child = mp.Process(target=set_items, args=(d, n))
            child.start()
            child.join()
            secs = time.perf_counter() - start
            assert len(d) == n, "updates lost"
            print(f"manager: {n} ops in {secs:.4f} s = {n / secs:.0f}/s")
    else:
        sys.exit(f"mp_bench_queue.py: unknown benchmark {what!r} (queue N | manager N)")


if __name__ == "__main__":
    main()
