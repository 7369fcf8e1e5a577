#!/usr/bin/env python3
"""Generate a deterministic tree of files for benchmarks and soak tests.

Sizes follow a long tail like a real source/log tree: most files are a few KiB, some are
MiBs, a few (optional) are huge. The same arguments always give the same bytes.

    scripts/make-tree.py DIR [--files N] [--total-mb MB] [--max-kb KB] [--big N --big-mb MB] [--seed S]
"""
import argparse
import os
import random


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir")
    p.add_argument("--files", type=int, default=20000, help="number of ordinary files")
    p.add_argument("--total-mb", type=float, default=300, help="approximate size of the ordinary files")
    p.add_argument("--big", type=int, default=0, help="number of extra big files")
    p.add_argument("--big-mb", type=int, default=256, help="size of each big file")
    p.add_argument("--max-kb", type=int, default=0, help="cap each ordinary file at this size (0: no cap)")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    rng = random.Random(a.seed)
    # Pareto-distributed weights give the long tail; scale them to the requested total.
    weights = [rng.paretovariate(1.2) for _ in range(a.files)]
    scale = a.total_mb * 1024 * 1024 / sum(weights) if weights else 0.0
    block = rng.randbytes(1 << 20)
    os.makedirs(a.dir, exist_ok=True)
    for i, w in enumerate(weights):
        size = int(w * scale)
        if a.max_kb:
            size = min(size, a.max_kb * 1024)
        sub = os.path.join(a.dir, f"d{i % 97:02d}", f"s{(i // 97) % 31:02d}")
        os.makedirs(sub, exist_ok=True)
        write(os.path.join(sub, f"file{i:06d}.dat"), size, block, i)
    for j in range(a.big):
        write(os.path.join(a.dir, f"big{j}.bin"), a.big_mb << 20, block, 10_000_000 + j)


def write(path: str, size: int, block: bytes, salt: int) -> None:
    """Writes `size` bytes: the shared random block, rotated per file so digests differ."""
    shift = salt % len(block)
    rotated = block[shift:] + block[:shift]
    with open(path, "wb") as f:
        f.write(salt.to_bytes(8, "little")[: min(8, size)])
        left = max(0, size - 8)
        while left:
            n = min(left, len(rotated))
            f.write(rotated[:n])
            left -= n


if __name__ == "__main__":
    main()
