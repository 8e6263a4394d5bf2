#!/usr/bin/env python3
"""Shared heaps side by side (issue 25): memkind-fixed's shared kind against
Boost.Interprocess's managed_shared_memory (rbtree_best_fit and simple_seq_fit)
and rts-alloc, each heap in processes of its own, in one run.

    bazel run //bench/shared:shared_bench -- [--quick] [--reps N] [--json PATH]
    python3 bench/shared/shared_bench.py --worker bazel-bin/bench/shared/shm_worker ...

Rows (each one measurement of bench/shared/shm_worker per heap and repetition; the
heaps interleaved, their order rotated every repetition; a 256 MiB segment):

  (1) pair64      one process, 64 B malloc + free pairs; memkind-fixed's private
                  fixed kind (on an anonymous mapping) beside it for reference
  (2) prodcons    process A allocates 256 B blocks and passes their offsets
                  through a ring in shared memory to process B, which frees them
  (3) large       256 KiB and 1 MiB malloc + free pairs: one process alone, then
                  two processes at once on one segment
  (4) random4     four processes at once, 1024 live blocks each, random sizes
                  16..4096 B, freed in random order
  (5) lifecycle   create a segment (64 MiB, 256 MiB, 1 GiB), attach from another
                  process, its first 64 B pair, its detach; a bare segment
                  (shm_open + posix_fallocate + mmap, no heap) shows what reserving
                  and mapping cost

Figures: median of --reps runs with min-max, from the thread CPU time and from the
wall clock. Ratios are memkind-fixed shared / that heap, of the medians (for ns:
below 1 the shared kind is faster; for pairs/s: above 1). A heap that cannot serve
a row shows n/a and why. Prints the table, writes the JSON (default
bench/out/shared.json) and, with --markdown, the table for docs/performance.md.
Like the other benchmarks it never fails on timing: it exits 0 when it ran.
"""
from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

HEAPS = ["mkf_shared", "mkf_private", "boost_rbtree", "boost_seqfit", "rts_alloc",
         "bare_segment"]
SUBJECT = "mkf_shared"
COMPETITORS = ["boost_rbtree", "boost_seqfit", "rts_alloc"]
LABELS = {"mkf_shared": "mkf shared", "mkf_private": "mkf private",
          "boost_rbtree": "Boost rbtree", "boost_seqfit": "Boost seqfit",
          "rts_alloc": "rts-alloc", "bare_segment": "bare segment"}
ABOUT = {
    "mkf_shared": "memkind-fixed's shared kind (memkind_shared_create/attach), "
                  "through libmemkind_fixed.so",
    "mkf_private": "memkind-fixed's private fixed kind (memkind_create_fixed on an "
                   "anonymous mapping): the one-process reference",
    "boost_rbtree": "Boost.Interprocess managed_shared_memory, rbtree_best_fit "
                    "(Debian libboost-dev 1.74)",
    "boost_seqfit": "Boost.Interprocess managed_shared_memory with simple_seq_fit "
                    "(Debian libboost-dev 1.74)",
    "rts_alloc": "rts-alloc 5.1.0 (crates.io), lock-free 256..4096 B slabs (a smaller "
                 "request takes a 256 B slot), through bench/rust_shared",
    "bare_segment": "no heap: shm_open + ftruncate + posix_fallocate + mmap",
}

NS_CPU = ("cpu_ns_per_pair", "CPU ns/pair", "lower")
NS_WALL = ("ns_per_pair", "wall ns/pair", "lower")
# Of the processes' wall time, the share they were on a CPU: on two cores shared
# with other load, processes meant to run at once take turns part of the time.
ON_CPU = ("on_cpu_share", "on-CPU share", None)


def lifecycle_measures() -> List[tuple]:
    return [("create_us", "create µs", "lower"), ("attach_us", "attach µs", "lower"),
            ("first_pair_us", "first pair µs", "lower"), ("detach_us", "detach µs", "lower")]


def rows(counts_scale: float, segment: str, sizes: List[str]) -> List[Dict[str, Any]]:
    """The rows of the table; counts at full scale times counts_scale."""
    def n(full: int) -> int:
        return max(100, int(full * counts_scale))

    seg = ["--size", segment]
    out: List[Dict[str, Any]] = [
        {"id": "pair64", "title": "(1) 1 process, 64 B pairs",
         "args": ["--row", "pairs", "--procs", "1", "--block", "64"] + seg,
         "count": n(10_000_000), "measures": [NS_CPU, NS_WALL]},
        {"id": "prodcons256", "title": "(2) producer/consumer, 2 processes, 256 B",
         "args": ["--row", "prodcons", "--block", "256"] + seg, "count": n(2_000_000),
         "measures": [("pairs_per_s", "M pairs/s", "higher"),
                      ("cpu_ns_per_pair_producer", "CPU ns/pair A", "lower"),
                      ("cpu_ns_per_pair_consumer", "CPU ns/pair B", "lower"),
                      # Yielding on the ring while the other side is not running: not
                      # counted above (shm_worker.c, ring_wait).
                      ("wait_cpu_ns_per_pair_producer", "A's waits, CPU ns/pair", None),
                      ("wait_cpu_ns_per_pair_consumer", "B's waits, CPU ns/pair", None),
                      ON_CPU]},
    ]
    for block, label, full in (("256K", "256 KiB", 1_000_000), ("1M", "1 MiB", 1_000_000)):
        for procs, who in ((1, "1 process alone"), (2, "2 processes at once")):
            out.append({"id": f"large{block.lower()}_{procs}p",
                        "title": f"(3) {label} pairs, {who}",
                        "args": ["--row", "pairs", "--procs", str(procs), "--block", block] + seg,
                        "count": n(full),
                        "measures": [NS_CPU, NS_WALL] + ([ON_CPU] if procs > 1 else [])})
    out.append({"id": "random4", "title": "(4) 4 processes, random 16..4096 B",
                "args": ["--row", "random", "--procs", "4"] + seg, "count": n(500_000),
                "measures": [("pairs_per_s", "M pairs/s", "higher"), NS_CPU, ON_CPU]})
    for size in sizes:
        out.append({"id": f"lifecycle_{size}", "title": f"(5) segment of {size_label(size)}",
                    "args": ["--row", "lifecycle", "--size", size], "count": 1,
                    "measures": lifecycle_measures()})
    return out


# ----------------------------------------------------------------- running

def find_worker(given: Optional[str]) -> str:
    for path in ([given] if given else []) + [os.path.join(HERE, "shm_worker"),
                                              os.path.join(TOP, "bazel-bin/bench/shared/shm_worker")]:
        if path and os.access(path, os.X_OK):
            return path
    sys.exit("shared_bench: no shm_worker (bazel build //bench/shared:shm_worker, or --worker)")


def run_worker(cmd: List[str], timeout: float) -> Dict[str, Any]:
    """One measurement: {"values": {...}} or {"na": why} / {"absent": why} /
    {"error": what}."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        err += f"\ntimed out after {timeout:.0f} s"
    for leftover in glob.glob(f"/dev/shm/mkfsb-{proc.pid}-*"):
        os.unlink(leftover)  # a worker killed before it could unlink
    values: Dict[str, float] = {}
    for line in out.splitlines():
        key, _, rest = line.partition(" ")
        if key in ("na", "absent"):
            return {key: rest}
        if key == "error":
            break
        if key == "ok":
            return {"values": {}}  # --probe: the heap loads
        values[key] = float(rest)
    if proc.returncode != 0 or (not values and "--probe" not in cmd):
        return {"error": (err.strip() or f"exit status {proc.returncode}").splitlines()[-1]}
    return {"values": values}


def cpu_busy() -> tuple:
    """(busy, total) jiffies of all CPUs since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def machine_load(start: tuple, end: tuple, own_cpu_s: float, wall_s: float) -> Dict[str, Any]:
    hz = os.sysconf("SC_CLK_TCK")
    cores = os.cpu_count() or 1
    busy = (end[0] - start[0]) / hz
    with open("/proc/loadavg") as f:
        loadavg = f.read().split()[:3]
    return {"cores": cores, "wall_s": round(wall_s, 1),
            "busy_core_s": round(busy, 1), "benchmark_core_s": round(own_cpu_s, 1),
            "others_core_s": round(max(0.0, busy - own_cpu_s), 1),
            "others_pct_of_machine": round(100 * max(0.0, busy - own_cpu_s) / (cores * wall_s), 1),
            "loadavg_end": loadavg}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# ----------------------------------------------------------------- figures

UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    """"256M" -> bytes, as shm_worker's --size reads it."""
    return int(text[:-1]) * UNITS[text[-1]] if text[-1:] in UNITS else int(text)


def size_label(text: str) -> str:
    """"256M" -> "256 MiB"."""
    return f"{text[:-1]} {text[-1]}iB" if text[-1:] in UNITS else f"{text} B"


def summarize(runs: List[float]) -> Dict[str, Any]:
    return {"median": statistics.median(runs), "min": min(runs), "max": max(runs), "runs": runs}


def scaled(key: str, v: float) -> float:
    return v / 1e6 if key == "pairs_per_s" else v


def fmt(v: float) -> str:
    a = abs(v)
    return f"{v:.0f}" if a >= 1000 else f"{v:.1f}" if a >= 10 else f"{v:.2f}"


def cell_text(res: Dict[str, Any], key: str, spread: bool = True) -> str:
    if "values" not in res:
        return "n/a" if "na" in res or "absent" in res else "failed"
    s = res["values"].get(key)
    if s is None:
        return "-"
    text = fmt(scaled(key, s["median"]))
    if spread:
        text += f" [{fmt(scaled(key, s['min']))}-{fmt(scaled(key, s['max']))}]"
    return text


def median_of(res: Optional[Dict[str, Any]], key: str) -> Optional[float]:
    if not res or "values" not in res or key not in res["values"]:
        return None
    return res["values"][key]["median"]


def ratio(table: Dict[str, Dict[str, Any]], row: str, key: str, other: str) -> Optional[float]:
    if key == ON_CPU[0] or key.startswith("wait_"):
        return None  # not a figure of the heap's speed
    a, b = median_of(table.get(row, {}).get(SUBJECT), key), median_of(table.get(row, {}).get(other), key)
    return a / b if a is not None and b else None


def targets(table: Dict[str, Dict[str, Any]], sizes: List[str]) -> List[Dict[str, Any]]:
    """Issue 25's speed targets, and where the shared kind stands against each."""
    out: List[Dict[str, Any]] = []

    def add(tid: str, text: str, value: Optional[float], met: Optional[bool], detail: str):
        out.append({"id": tid, "target": text, "value": value, "met": met, "detail": detail})

    r = ratio(table, "pair64", "cpu_ns_per_pair", "mkf_private")
    add("PAIR64", "one process, 64 B pair within 1.5x of the private kind (CPU)", r,
        None if r is None else r <= 1.5,
        "shared / private = " + ("n/a" if r is None else f"{r:.2f}x"))

    mine = median_of(table.get("prodcons256", {}).get(SUBJECT), "pairs_per_s")
    best = max(((median_of(table.get("prodcons256", {}).get(c), "pairs_per_s") or 0.0, c)
                for c in COMPETITORS), default=(0.0, None))
    r = mine / best[0] if mine is not None and best[0] else None
    add("PRODCONS", "producer/consumer across processes at least as fast as the best "
        "competitor (pairs/s)", r, None if r is None else r >= 1.0,
        f"shared / {best[1]} = " + ("n/a" if r is None else f"{r:.2f}x"))

    for block in ("256k", "1m"):
        one = median_of(table.get(f"large{block}_1p", {}).get(SUBJECT), "cpu_ns_per_pair")
        two = median_of(table.get(f"large{block}_2p", {}).get(SUBJECT), "cpu_ns_per_pair")
        r = two / one if one and two is not None else None
        add(f"LARGE_{block.upper()}", f"two processes' {size_label(block.upper())} pairs as fast per pair "
            "as one process's (CPU ns/pair; met within 10%)", r,
            None if r is None else r <= 1.10,
            "two / one = " + ("n/a" if r is None else f"{r:.2f}x"))

    mine = median_of(table.get("random4", {}).get(SUBJECT), "pairs_per_s")
    others = [(median_of(table.get("random4", {}).get(c), "pairs_per_s"), c) for c in COMPETITORS]
    others = [(v, c) for v, c in others if v is not None]
    best = max(others, default=(None, None))
    r = mine / best[0] if mine is not None and best[0] else None
    add("RANDOM4", "four processes at once: ahead of every competitor (pairs/s)", r,
        None if r is None else r > 1.0,
        f"shared / {best[1]} = " + ("n/a" if r is None else f"{r:.2f}x"))

    # Create and attach against the segment's size. Reserving the pages
    # (posix_fallocate) costs in proportion to the size, and the bare segment
    # measures it; met when, at the largest size, the shared kind's create costs at
    # most 10% (or 1 ms) more than the bare segment's, and its attach at most twice
    # its attach at the smallest size (a cost per byte would grow 16x from 64 MiB
    # to 1 GiB).
    lo, hi = f"lifecycle_{sizes[0]}", f"lifecycle_{sizes[-1]}"
    c_hi, b_hi = (median_of(table.get(hi, {}).get(h), "create_us") for h in (SUBJECT, "bare_segment"))
    a_lo, a_hi = (median_of(table.get(row, {}).get(SUBJECT), "attach_us") for row in (lo, hi))
    ok = None
    if None not in (c_hi, b_hi, a_lo, a_hi) and a_lo > 0:
        ok = c_hi - b_hi <= max(1000.0, 0.1 * b_hi) and a_hi <= 2 * a_lo
    per_gib = (f"; reserving and mapping a bare segment: {b_hi / 1e3 * (1 << 30) / parse_size(sizes[-1]):.0f}"
               " ms per GiB" if b_hi else "")
    detail = (f"create at {size_label(sizes[-1])}: {fmt(c_hi / 1e3) if c_hi else 'n/a'} ms "
              f"(bare segment {fmt(b_hi / 1e3) if b_hi else 'n/a'} ms); attach "
              f"{fmt(a_lo) if a_lo else 'n/a'} µs at {size_label(sizes[0])}, "
              f"{fmt(a_hi) if a_hi else 'n/a'} µs at {size_label(sizes[-1])}{per_gib}")
    add("LIFECYCLE", "create and attach without a cost that grows with the segment beyond "
        "reserving its pages (met: create within 10% or 1 ms of a bare segment's at the "
        "largest size, attach at most 2x from the smallest to the largest)", None, ok, detail)
    return out


# ----------------------------------------------------------------- output

def print_table(rowdefs, table, heaps, out) -> None:
    comps = [h for h in heaps if h != SUBJECT and h != "bare_segment"]
    head = ["row", "figure"] + [LABELS[h] for h in heaps] + [f"/{LABELS[h]}" for h in comps]
    lines = []
    for rd in rowdefs:
        for key, label, better in rd["measures"]:
            line = [rd["title"], f"{label} ({better} better)" if better else label]
            line += [cell_text(table[rd["id"]].get(h, {}), key) for h in heaps]
            for h in comps:
                r = ratio(table, rd["id"], key, h)
                line.append("" if r is None else f"{r:.2f}")
            lines.append(line)
    widths = [max(len(x[i]) for x in [head] + lines) for i in range(len(head))]
    for i, line in enumerate([head] + lines):
        out.write("  ".join(c.ljust(widths[j]) if j < 2 else c.rjust(widths[j])
                            for j, c in enumerate(line)).rstrip() + "\n")
        if i == 0:
            out.write("-" * (sum(widths) + 2 * (len(widths) - 1)) + "\n")


def markdown(rowdefs, table, heaps) -> str:
    comps = [h for h in heaps if h != SUBJECT and h != "bare_segment"]
    lines = ["| row | figure | " + " | ".join(LABELS[h] for h in heaps) + " | "
             + " | ".join(f"shared / {LABELS[h]}" for h in comps) + " |",
             "|---|---|" + "---:|" * (len(heaps) + len(comps))]
    for rd in rowdefs:
        for key, label, better in rd["measures"]:
            cells = [cell_text(table[rd["id"]].get(h, {}), key) for h in heaps]
            rs = [ratio(table, rd["id"], key, h) for h in comps]
            figure = f"{label} ({better} better)" if better else label
            lines.append(f"| {rd['title']} | {figure} | " + " | ".join(cells)
                         + " | " + " | ".join("" if r is None else f"{r:.2f}" for r in rs) + " |")
    return "\n".join(lines) + "\n"


def main(argv: List[str]) -> int:
    ws = os.environ.get("BUILD_WORKSPACE_DIRECTORY", TOP)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="counts / 10: a smoke run")
    p.add_argument("--scale", type=float, default=None,
                   help="multiply the counts by this (overrides --quick; the smoke test: 0.001)")
    p.add_argument("--reps", type=int, default=5, help="runs per figure, median (default 5)")
    p.add_argument("--segment", default="256M", help="segment of rows 1-4 (default 256M)")
    p.add_argument("--sizes", default="64M,256M,1G", help="segments of row 5 (default 64M,256M,1G)")
    p.add_argument("--rows", default=None, help="only the rows whose id starts with one of "
                   "these, comma-separated (pair64, prodcons, large, random4, lifecycle); "
                   "the targets of the others then say n/a")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json", default=os.path.join(ws, "bench/out/shared.json"))
    p.add_argument("--markdown", default=None, help="also write the table as Markdown here")
    p.add_argument("--worker", default=None, help="bench/shared/shm_worker (default: beside "
                   "this script under bazel run, else bazel-bin)")
    p.add_argument("--deps", default=None, help="the competitors' libraries (default "
                   ".deps/bench of the workspace)")
    p.add_argument("--rts-lib", default=None, help="rts-alloc's cdylib (default "
                   "DEPS/libmkfbench_rts.so)")
    p.add_argument("--timeout", type=float, default=600, help="seconds per measurement")
    a = p.parse_args(argv)
    if a.reps < 1:
        p.error("--reps must be at least 1")
    scale = a.scale if a.scale is not None else 0.1 if a.quick else 1.0
    sizes = [s.strip() for s in a.sizes.split(",") if s.strip()]
    worker = find_worker(a.worker)
    common = ["--seed", str(a.seed)]
    deps = a.deps or (os.path.join(ws, ".deps/bench") if os.path.isdir(os.path.join(ws, ".deps/bench")) else None)
    if deps:
        common += ["--deps", deps]
    if a.rts_lib:
        common += ["--rts-lib", a.rts_lib]

    absent: Dict[str, Optional[str]] = {}
    for h in HEAPS:
        probe = run_worker([worker, "--heap", h, "--probe"] + common, 60)
        absent[h] = probe.get("absent") or probe.get("error")
        if absent[h]:
            print(f"shared_bench: {LABELS[h]} left out: {absent[h]}", file=sys.stderr)

    rowdefs = rows(scale, a.segment, sizes)
    if a.rows:
        wanted = tuple(x.strip() for x in a.rows.split(",") if x.strip())
        rowdefs = [rd for rd in rowdefs if rd["id"].startswith(wanted)]
    runs: Dict[str, Dict[str, Dict[str, Any]]] = {rd["id"]: {} for rd in rowdefs}
    t0, busy0, own0 = time.monotonic(), cpu_busy(), resource.getrusage(resource.RUSAGE_CHILDREN)
    for rep in range(a.reps):
        for rd in rowdefs:
            for k in range(len(HEAPS)):
                h = HEAPS[(k + rep) % len(HEAPS)]
                cell = runs[rd["id"]].setdefault(h, {"values": {}})
                if absent[h]:
                    runs[rd["id"]][h] = {"absent": absent[h]}
                    continue
                if "values" not in cell or cell.get("failed"):
                    continue  # n/a, or failed in an earlier repetition
                r = run_worker([worker, "--heap", h, "--count", str(rd["count"])] + rd["args"]
                               + common, a.timeout)
                if "values" in r:
                    for key, v in r["values"].items():
                        cell["values"].setdefault(key, []).append(v)
                elif "na" in r:
                    runs[rd["id"]][h] = {"na": r["na"]}
                else:
                    cell["failed"] = r["error"]
                    print(f"shared_bench: {rd['id']} on {LABELS[h]} failed: {r['error']}",
                          file=sys.stderr)
            print(f"shared_bench: rep {rep + 1}/{a.reps}: {rd['id']} done", file=sys.stderr)
    wall = time.monotonic() - t0
    own1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    own_cpu = (own1.ru_utime + own1.ru_stime) - (own0.ru_utime + own0.ru_stime)
    load = machine_load(busy0, cpu_busy(), own_cpu, wall)

    # Medians: a heap that failed in any repetition has no figure for the row.
    table: Dict[str, Dict[str, Any]] = {}
    for rd in rowdefs:
        table[rd["id"]] = {}
        for h, cell in runs[rd["id"]].items():
            if "values" in cell and not cell.get("failed") and cell["values"]:
                table[rd["id"]][h] = {"values": {k: summarize(v) for k, v in cell["values"].items()}}
            elif cell.get("failed"):
                table[rd["id"]][h] = {"error": cell["failed"]}
            else:
                table[rd["id"]][h] = {k: v for k, v in cell.items() if k in ("na", "absent")}
    shown = [h for h in HEAPS if h in {h2 for t in table.values() for h2 in t}]
    tg = targets(table, sizes)

    title = (f"Shared heaps side by side: median of {a.reps} [min-max], segment {size_label(a.segment)} "
             f"(rows 1-4), counts x{scale:g}; ratios = mkf shared / that heap")
    print(title)
    print(f"{platform.node()}: {cpu_model()}, {load['cores']} cores; the run took "
          f"{load['wall_s']} s; other processes used {load['others_pct_of_machine']}% of the "
          f"machine meanwhile (load average {' '.join(load['loadavg_end'])})\n")
    print_table(rowdefs, table, shown, sys.stdout)
    notes = {}
    for rd in rowdefs:
        for h, res in table[rd["id"]].items():
            why = res.get("na") or res.get("absent") or res.get("error")
            if why:
                notes.setdefault((h, why), []).append(rd["id"])
    if notes:
        print("\nn/a and failures:")
        for (h, why), ids in notes.items():
            print(f"  {LABELS[h]}: {why} ({', '.join(ids)})")
    print("\nHeaps:")
    for h in shown:
        print(f"  {LABELS[h]:13s} {ABOUT[h]}")
    print("\nIssue 25's speed targets:")
    for t in tg:
        verdict = {True: "met", False: "NOT met", None: "n/a"}[t["met"]]
        print(f"  {t['id']:10s} {verdict:8s} {t['detail']}  ({t['target']})")

    result = {
        "schema": "memkind-fixed-shared-bench/1",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"node": platform.node(), "cpu": cpu_model(), "kernel": platform.release(),
                    **load},
        "quick": scale < 1.0, "scale": scale, "reps": a.reps, "seed": a.seed,
        "segment": a.segment, "lifecycle_sizes": sizes,
        "heaps": [{"id": h, "label": LABELS[h], "about": ABOUT[h], "absent": absent[h],
                   "subject": h == SUBJECT, "competitor": h in COMPETITORS} for h in HEAPS],
        "rows": [{"id": rd["id"], "title": rd["title"], "count": rd["count"],
                  "worker_args": rd["args"],
                  "measures": [{"key": k, "label": l, "better": b} for k, l, b in rd["measures"]],
                  "results": table[rd["id"]]} for rd in rowdefs],
        "ratios_shared_over": {h: {f"{rd['id']}.{k}": ratio(table, rd["id"], k, h)
                                   for rd in rowdefs for k, _, _ in rd["measures"]}
                               for h in HEAPS if h != SUBJECT},
        "targets": tg,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(markdown(rowdefs, table, shown))
    print(f"\nJSON: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
