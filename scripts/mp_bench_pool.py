#!/usr/bin/env python3
"""CPython's side of the "library vs CPython multiprocessing" rows of scripts/bench.sh: the
same programs as crates/mp/examples/bench_pool.rs, printing the same `name=value` lines
(seconds), each timed inside the process after the pool has started.

    python3 scripts/mp_bench_pool.py [--start-method fork|spawn] [NAME...]
"""
import argparse
import multiprocessing as mp
import statistics
import time


def square(x):
    return x * x


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--start-method", default="fork", choices=["fork", "spawn", "forkserver"])
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    ctx = mp.get_context(args.start_method)
    wanted = lambda name: not args.names or name in args.names
    with ctx.Pool(2) as pool:
        assert pool.apply(square, (3,)) == 9
        if wanted("pool_reuse"):
            calls = 1000
            started = time.perf_counter()
            for _ in range(calls):
                assert pool.map(square, range(8))[7] == 49
            print(f"pool_reuse={(time.perf_counter() - started) / calls:.9f}")
        if wanted("map_200k"):
            started = time.perf_counter()
            results = pool.map(square, range(200_000))
            elapsed = time.perf_counter() - started
            assert results[199_999] == 199_999 * 199_999
            print(f"map_200k={elapsed:.9f}")
        if wanted("apply_async_10k"):
            started = time.perf_counter()
            pending = [pool.apply_async(square, (x,)) for x in range(10_000)]
            total = sum(p.get() for p in pending)
            elapsed = time.perf_counter() - started
            assert total == sum(x * x for x in range(10_000))
            print(f"apply_async_10k={elapsed:.9f}")
    if wanted("spawn_join"):
        times = []
        for x in range(20):
            started = time.perf_counter()
            p = ctx.Process(target=square, args=(x,))
            p.start()
            p.join()
            assert p.exitcode == 0
            times.append(time.perf_counter() - started)
        print(f"spawn_join={statistics.median(times):.9f}")


if __name__ == "__main__":
    main()
