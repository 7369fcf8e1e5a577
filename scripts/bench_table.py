#!/usr/bin/env python3
"""Turn the measurements of scripts/bench.sh into its Markdown results table.

    scripts/bench_table.py --store MEASUREMENTS.json --rows ROWS.tsv [--notes NOTES.txt]
                           [--title TEXT] [--out FILE]

ROWS.tsv has one row per line, tab-separated:

    LABEL  SUPERVISOR  REFERENCE-LABEL  REFERENCE  GOAL  UNIT

SUPERVISOR and REFERENCE are values: `t:KEY` (the median time of KEY in the store, seconds),
`c:KEY` (its median CPU time, user + sys of all its processes), `rate:N:KEY` (N divided
by the median time: tasks/s), `v:KEY` (a value put in the store), `n:X` (a
number) or `skip:TEXT` (the row cannot be measured: printed as "skipped: TEXT"). UNIT is `s`,
`ms` (a value in seconds, printed in milliseconds), `tasks/s`, `x` (a speedup) or `MB` and
says how both values print. The ratio is supervisor /
reference. GOAL is `ratio<=X`, `ratio>=X`, `sup>=X`, `sup<=X` or `-` (informational).

Prints the table (with the machine and date) and writes it to --out. Exits 0 whatever goals are
missed: this reports, it does not judge.
"""
import argparse
import datetime
import json
import os
import platform


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def value(expr: str, store: dict):
    """A number, or a string saying why there is none."""
    kind, _, rest = expr.partition(":")
    if kind == "skip":
        return f"skipped: {rest}"
    if kind == "n":
        return float(rest)
    if kind == "t":
        return store[rest]["median"] if rest in store else f"not measured ({rest})"
    if kind == "c":
        return store[rest]["cpu_median"] if rest in store else f"not measured ({rest})"
    if kind == "v":
        return store[rest]["value"] if rest in store else f"not measured ({rest})"
    if kind == "rate":
        n, _, key = rest.partition(":")
        return float(n) / store[key]["median"] if key in store else f"not measured ({key})"
    raise SystemExit(f"bench_table: bad value {expr!r}")


def show(v, unit: str) -> str:
    if isinstance(v, str):
        return v
    if unit == "s":
        return f"{v:.3f} s"
    if unit == "ms":
        return f"{v * 1e3:.3f} ms"
    if unit == "tasks/s":
        return f"{v / 1e6:.2f} M/s" if v >= 1e6 else f"{v / 1e3:.0f} k/s"
    if unit == "x":
        return f"{v:.2f}×"
    if unit == "MB":
        return f"{v:.0f} MB"
    return f"{v:g}"


def judge(goal: str, sup, ratio):
    """(goal text, met text)."""
    if goal == "-":
        return "—", "info"
    for op in ("<=", ">="):
        if op in goal:
            what, limit = goal.split(op)
            limit = float(limit)
            subject = ratio if what == "ratio" else sup
            sign = "≤" if op == "<=" else "≥"
            text = f"{'ratio ' if what == 'ratio' else ''}{sign} {limit:g}"
            if subject is None or isinstance(subject, str):
                return text, "n/a"
            ok = subject <= limit if op == "<=" else subject >= limit
            return text, "yes" if ok else "**NO**"
    raise SystemExit(f"bench_table: bad goal {goal!r}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", required=True)
    p.add_argument("--rows", required=True)
    p.add_argument("--notes")
    p.add_argument("--title", default="supervisor benchmarks")
    p.add_argument("--out")
    a = p.parse_args()
    with open(a.store) as f:
        store = json.load(f)

    u = os.uname()
    lines = [
        f"## {a.title}",
        "",
        f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- machine: {os.cpu_count()} cores (nproc), {cpu_model()}, "
        f"kernel {u.release} ({u.machine})",
        f"- load average when the table was made: {open('/proc/loadavg').read().split()[0]} "
        f"(anything near or above {os.cpu_count()} means the wall times are inflated by other "
        "processes: compare the CPU times below)",
        "",
        "| row | supervisor | reference | ratio | goal | met? |",
        "|---|---|---|---|---|---|",
    ]
    missed = []
    with open(a.rows) as f:
        for raw in f:
            if not raw.strip():
                continue
            label, sup_e, ref_label, ref_e, goal, unit = raw.rstrip("\n").split("\t")
            sup, ref = value(sup_e, store), value(ref_e, store)
            ratio = sup / ref if isinstance(sup, float) and isinstance(ref, float) else None
            goal_text, met = judge(goal, sup, ratio)
            if isinstance(ref, str) and ref.startswith("skipped") and goal.startswith("ratio"):
                met = "skipped"
            ratio_text = f"{ratio:.2f}" if ratio is not None else "—"
            ref_text = f"{ref_label}: {show(ref, unit)}" if not isinstance(ref, str) else ref
            lines.append(f"| {label} | {show(sup, unit)} | {ref_text} | {ratio_text} "
                         f"| {goal_text} | {met} |")
            if met == "**NO**":
                missed.append(label)
    lines.append("")
    lines.append(f"goals missed: {len(missed)}" + (f" ({'; '.join(missed)})" if missed else ""))
    timed = sorted((k, v) for k, v in store.items() if "median" in v)
    if timed:
        lines += ["", "Every timed command: median wall time, minimum, and median CPU time (user + sys "
                  "of the command and all its processes; insensitive to competing load), and its "
                  "user / sys split:", "",
                  "| command | wall median | wall min | CPU median | user | sys |",
                  "|---|---|---|---|---|---|"]
        nan = float("nan")
        lines += [f"| {k} | {v['median']:.3f} s | {v['min']:.3f} s | "
                  f"{v.get('cpu_median', nan):.3f} s | {v.get('user_median', nan):.3f} s | "
                  f"{v.get('sys_median', nan):.3f} s |" for k, v in timed]
    if a.notes and os.path.exists(a.notes):
        with open(a.notes) as f:
            notes = [n.rstrip("\n") for n in f if n.strip()]
        if notes:
            lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
