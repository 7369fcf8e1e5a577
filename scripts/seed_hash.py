#!/usr/bin/env python3
"""The seed article's parallel file hasher, re-written for benchmarks (not copied).

    scripts/seed_hash.py DIR [--ext EXT ...] [--processes N] [--quiet]

What the seed does, kept here on purpose: the file list is built first (`Path.rglob`), then a
`multiprocessing.Pool` of `os.cpu_count()` processes (never more than there are files) runs
`pool.map` over it with the default chunksize; each file is MD5-hashed in 4096-byte reads and
its size taken afterwards with `os.path.getsize`; a file that cannot be read becomes an
"ERROR: ..." result. The results are sorted by size, largest first, and printed as
`PATH: DIGEST (SIZE bytes)`, then the total size.

Differences from the seed, for benchmarking: without --ext every regular file is hashed (the
seed defaults to .txt/.log/.py); timing and the "found N files" line go to stderr.
"""
import argparse
import hashlib
import multiprocessing
import os
import sys
import time
from pathlib import Path


def md5_of_file(path):
    digest = hashlib.md5()
    try:
        with open(path, "rb") as f:
            while True:
                block = f.read(4096)
                if not block:
                    break
                digest.update(block)
        return str(path), digest.hexdigest(), os.path.getsize(path)
    except Exception as e:  # the seed turns any failure into a result
        return str(path), f"ERROR: {e}", 0


def list_files(directory, extensions):
    if extensions:
        files = []
        for ext in extensions:
            files.extend(Path(directory).rglob(f"*{ext}"))
        return files
    return [p for p in Path(directory).rglob("*") if p.is_file()]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("directory")
    p.add_argument("--ext", nargs="+", default=None, help="extensions, like the seed's --ext")
    p.add_argument("--processes", type=int, default=os.cpu_count())
    a = p.parse_args()
    if not os.path.exists(a.directory):
        sys.exit(f"{a.directory} does not exist")

    files = list_files(a.directory, a.ext)
    if not files:
        sys.exit(f"no files found in {a.directory}")
    print(f"found {len(files)} files", file=sys.stderr)
    start = time.time()
    with multiprocessing.Pool(processes=min(len(files), a.processes)) as pool:
        results = pool.map(md5_of_file, files)
    print(f"hashed in {time.time() - start:.2f} s", file=sys.stderr)

    results.sort(key=lambda r: r[2], reverse=True)
    out = sys.stdout
    total = 0
    for path, digest, size in results:
        if digest.startswith("ERROR"):
            out.write(f"{path}: {digest}\n")
        else:
            out.write(f"{path}: {digest} ({size} bytes)\n")
            total += size
    out.write(f"\ntotal size: {total} bytes ({total / 1024 / 1024:.2f} MB)\n")


if __name__ == "__main__":
    main()
