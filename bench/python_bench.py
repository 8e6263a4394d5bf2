#!/usr/bin/env python3
"""The Python binding's costs against what a Python program would use otherwise, as
ratios measured in one run (issue 24):

- the array constructors of a FixedKind and of a SharedKind, ``empty``, ``zeros``,
  ``full`` and ``array``, against numpy's own for 16, 4096 and 10^6 float64 elements;
- small blocks: ``kind.calloc(1, 64)`` and ``kind.malloc(64)`` (each released again)
  against ``bytearray(64)``, and the raw cffi calls (memkind_malloc / memkind_free
  through the package's own ffi/lib: the binding's floor);
- ``numpy.zeros(16)`` inside ``numpy_allocator(kind)`` against outside it, and the
  cost of entering and leaving the ``with`` block.

    python3 bench/python_bench.py [--quick] [--reps N] [--json bench/out/python.json]

Each figure is the best of --reps runs of a loop (the cases interleaved, so that
a busy spell of the machine hits all of them; the best, as timeit advises, because
on a shared machine the other runs measure the neighbours); the JSON also keeps the
medians. A ratio is ours / theirs, below 1 is faster. Like the C benchmark it only measures: it exits 0 whenever it ran, and
also when memkind_fixed or numpy is not importable (it then says why and writes
{"skipped": ...}).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = (16, 4096, 10**6)  # float64 elements: 128 B, 32 KiB, 8 MB
CONSTRUCTORS = ("empty", "zeros", "full", "array")

# (id, label, loop(n), calls per sample at full scale)
Case = Tuple[str, str, Callable[[int], None], int]


def timed(fn: Callable[[int], None], n: int) -> float:
    """ns per call of fn's loop body (fn runs the loop itself: no per-call lambda)."""
    t0 = time.perf_counter_ns()
    fn(n)
    return (time.perf_counter_ns() - t0) / n


def calls_for(count: int) -> int:
    return 5_000 if count <= 16 else 2_000 if count <= 4096 else 20


def constructor(make: Any, name: str, count: int, np: Any) -> Callable[[int], None]:
    """A loop that makes and drops one array per iteration with make.<name>."""
    if name == "array":
        src = np.arange(count, dtype=np.float64)

        def loop(n: int) -> None:
            f = make.array
            for _ in range(n):
                a = f(src)
                del a
    elif name == "full":
        def loop(n: int) -> None:
            f = make.full
            for _ in range(n):
                a = f(count, 1.5)
                del a
    else:
        def loop(n: int) -> None:
            f = getattr(make, name)
            for _ in range(n):
                a = f(count)
                del a
    return loop


def cases(mkf: Any, fixed: Any, shared: Any, np: Any) -> List[Case]:
    out: List[Case] = []
    for count in SIZES:
        for name in CONSTRUCTORS:
            calls = calls_for(count)
            out.append((f"numpy.{name}.{count}", f"numpy.{name}({count})",
                        constructor(np, name, count, np), calls))
            out.append((f"fixed.{name}.{count}", f"FixedKind.{name}({count})",
                        constructor(fixed, name, count, np), calls))
            out.append((f"shared.{name}.{count}", f"SharedKind.{name}({count})",
                        constructor(shared, name, count, np), calls))

    def calloc_release(n: int) -> None:
        calloc = fixed.calloc
        for _ in range(n):
            calloc(1, 64).release()

    def malloc_release(n: int) -> None:
        malloc = fixed.malloc
        for _ in range(n):
            malloc(64).release()

    def malloc_free(n: int) -> None:
        malloc, free = fixed.malloc, fixed.free
        for _ in range(n):
            free(malloc(64))

    def py_bytearray(n: int) -> None:
        for _ in range(n):
            b = bytearray(64)
            del b

    handle = fixed._heap().kind  # private: the memkind_t the kind wraps
    lib = mkf.lib

    def raw(n: int) -> None:
        m, f = lib.memkind_malloc, lib.memkind_free
        for _ in range(n):
            f(handle, m(handle, 64))

    def numpy_zeros16(n: int) -> None:
        z = np.zeros
        for _ in range(n):
            a = z(16)
            del a

    def handler_zeros16(n: int) -> None:
        with mkf.numpy_allocator(fixed):
            numpy_zeros16(n)

    def handler_enter(n: int) -> None:
        allocator = mkf.numpy_allocator
        for _ in range(n):
            with allocator(fixed):
                pass

    out += [("calloc", "kind.calloc(1, 64).release()", calloc_release, 10_000),
            ("malloc", "kind.malloc(64).release()", malloc_release, 10_000),
            ("malloc_free", "kind.free(kind.malloc(64))", malloc_free, 10_000),
            ("bytearray", "bytearray(64)", py_bytearray, 10_000),
            ("cffi_raw", "raw cffi memkind_malloc/free(64)", raw, 10_000),
            ("numpy.zeros16", "numpy.zeros(16)", numpy_zeros16, 5_000),
            ("handler.zeros16", "numpy.zeros(16) in numpy_allocator", handler_zeros16, 5_000),
            ("handler.enter", "enter + leave numpy_allocator()", handler_enter, 2_000)]
    return out


def ratios(median: Dict[str, float]) -> Dict[str, float]:
    out = {}
    for count in SIZES:
        for name in CONSTRUCTORS:
            for kind in ("fixed", "shared"):
                out[f"{kind}.{name}.{count}/numpy"] = (median[f"{kind}.{name}.{count}"]
                                                       / median[f"numpy.{name}.{count}"])
    for row in ("calloc", "malloc", "malloc_free"):
        out[f"{row}/bytearray"] = median[row] / median["bytearray"]
    out["malloc_free/cffi_raw"] = median["malloc_free"] / median["cffi_raw"]
    out["handler.zeros16/numpy"] = median["handler.zeros16"] / median["numpy.zeros16"]
    return out


def main(argv: List[str]) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--quick", action="store_true", help="counts / 10: a smoke run")
    p.add_argument("--reps", type=int, default=21)
    p.add_argument("--json", default=os.path.join(HERE, "out", "python.json"))
    a = p.parse_args(argv)
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)

    try:
        import numpy as np

        import memkind_fixed as mkf
    except Exception as e:  # noqa: BLE001 - ImportError, or a broken build
        reason = f"not importable: {type(e).__name__}: {e}"
        print(f"python_bench: skipped: {reason}")
        with open(a.json, "w") as f:
            json.dump({"skipped": reason}, f, indent=2)
        return 0

    scale = 10 if a.quick else 1
    fixed = mkf.FixedKind(size=256 << 20)
    shared = mkf.SharedKind.create(256 << 20)
    try:
        rows = cases(mkf, fixed, shared, np)
        samples: Dict[str, List[float]] = {r[0]: [] for r in rows}
        for rep in range(a.reps):
            shift = rep * 7 % len(rows)
            for rid, _label, fn, calls in rows[shift:] + rows[:shift]:
                samples[rid].append(timed(fn, max(1, calls // scale)))
    finally:
        fixed.close()
        shared.close()

    median = {rid: statistics.median(s) for rid, s in samples.items()}
    best = {rid: min(s) for rid, s in samples.items()}
    r = ratios(best)
    print(f"\nPython binding, {platform.python_implementation()} {platform.python_version()}, "
          f"numpy {np.__version__}: best of {a.reps}, ns per operation; ratio = ours / "
          f"theirs" + (" (--quick: a smoke run)" if a.quick else ""))
    print(f"\n  {'constructor':12s} {'elements':>8s} {'numpy':>10s} {'FixedKind':>10s} "
          f"{'ratio':>6s} {'SharedKind':>10s} {'ratio':>6s}")
    for count in SIZES:
        for name in CONSTRUCTORS:
            key = f"{name}.{count}"
            print(f"  {name:12s} {count:8d} {best['numpy.' + key]:10.0f} "
                  f"{best['fixed.' + key]:10.0f} {r[f'fixed.{key}/numpy']:5.2f}x "
                  f"{best['shared.' + key]:10.0f} {r[f'shared.{key}/numpy']:5.2f}x")
    print()
    for rid, label, _fn, _calls in rows[3 * len(SIZES) * len(CONSTRUCTORS):]:
        print(f"  {label:40s} {best[rid]:8.0f}")
    for key in ("calloc/bytearray", "malloc/bytearray", "malloc_free/bytearray",
                "malloc_free/cffi_raw", "handler.zeros16/numpy"):
        print(f"  ratio {key:34s} {r[key]:5.2f}x")
    doc = {"title": "Python array constructors and small blocks against numpy and bytearray",
           "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "python": platform.python_version(), "numpy": np.__version__,
           "quick": a.quick, "reps": a.reps, "unit": "ns/op",
           "results": [{"id": rid, "label": label, "best": best[rid],
                        "median": median[rid], "max": max(samples[rid])}
                       for rid, label, _fn, _calls in rows],
           "ratios": r, "median_ratios": ratios(median)}
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=2)
    print(f"JSON written to {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
