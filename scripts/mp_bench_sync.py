#!/usr/bin/env python3
"""The same program as crates/mp/examples/bench_sync.rs, in CPython's multiprocessing: in one
child process, N uncontended acquire/release pairs of a Lock, an RLock, a Semaphore, and N
`+= 1` under a Value's lock; each timed inside the child.

    python3 scripts/mp_bench_sync.py [N]      (default 1,000,000)

Prints one line per primitive: `NAME: N ops in S s: R ops/s`.
"""
import multiprocessing as mp
import sys
import time


def run_all(lock, rlock, sem, value, n, out):
    times = []
    start = time.perf_counter()
    for _ in range(n):
        lock.acquire()
        lock.release()
    times.append(("lock", time.perf_counter() - start))
    start = time.perf_counter()
    for _ in range(n):
        rlock.acquire()
        rlock.release()
    times.append(("rlock", time.perf_counter() - start))
    start = time.perf_counter()
    for _ in range(n):
        sem.acquire()
        sem.release()
    times.append(("semaphore", time.perf_counter() - start))
    start = time.perf_counter()
    for _ in range(n):
        with value.get_lock():
            value.value += 1
    times.append(("value", time.perf_counter() - start))
    assert value.value == n
    out.put(times)


if __name__ == "__main__":
    n = int(sys.argv[1].replace("_", "").replace(",", "")) if len(sys.argv) > 1 else 1_000_000
    out = mp.Queue()
    child = mp.Process(
        target=run_all,
        args=(mp.Lock(), mp.RLock(), mp.Semaphore(1), mp.Value("q", 0), n, out),
    )
    child.start()
    times = out.get()
    child.join()
    for name, secs in times:
        print(f"{name}: {n} ops in {secs:.4f} s: {n / secs:.0f} ops/s")
