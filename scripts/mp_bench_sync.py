#!/usr/bin/env python3
"""The same program as crates/mp/examples/bench_sync.rs, in CPython's multiprocessing: in one
child process, N uncontended acquire/release pairs of a Lock, an RLock, a Semaphore, and N
`+= 1` under a Value's lock; each loop timed inside the child, three times, the fastest
reported.

    python3 scripts/mp_bench_sync.py [N]      (default 1,000,000)

Prints one line per primitive: `NAME: N ops in S s: R ops/s`.
"""
import multiprocessing as mp
import sys
import time


REPEAT = 3  # each loop runs this many times; the fastest counts (as in bench_sync.rs)


def best(loop, obj, n):
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        loop(obj, n)
        times.append(time.perf_counter() - start)
    return min(times)


# The primitive is each loop's parameter (a fast local, as in a plain function).
def lock_loop(lock, n):
    for _ in range(n):
        lock.acquire()
        lock.release()


def sem_loop(sem, n):
    for _ in range(n):
        sem.acquire()
        sem.release()


def value_loop(value, n):
    for _ in range(n):
        with value.get_lock():
            value.value += 1


def run_all(lock, rlock, sem, value, n, out):
    times = [
        ("lock", best(lock_loop, lock, n)),
        ("rlock", best(lock_loop, rlock, n)),
        ("semaphore", best(sem_loop, sem, n)),
        ("value", best(value_loop, value, n)),
    ]
    assert value.value == REPEAT * n
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
