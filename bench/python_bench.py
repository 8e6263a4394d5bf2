#!/usr/bin/env python3
"""The Python binding's costs, measured against what a Python program would use
otherwise: a 64 B block through memkind_fixed vs bytearray(64) vs the raw cffi calls
(memkind_malloc / memkind_free through the package's own ffi/lib, so the difference
to the first row is the binding's Python-level overhead), and kind.zeros(n) vs
numpy.zeros(n) for a few sizes.

    python3 bench/python_bench.py [--quick] [--reps N] [--json bench/out/python.json]

Like the C benchmark it only measures: it exits 0 whenever it ran, and also when
memkind_fixed is not importable (it then says why and writes {"skipped": ...}).
Allocations are interleaved and each figure is the median of --reps runs.
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
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(fn: Callable[[int], None], n: int) -> float:
    """ns per call of fn's loop body (fn runs the loop itself: no per-call lambda)."""
    t0 = time.perf_counter_ns()
    fn(n)
    return (time.perf_counter_ns() - t0) / n


def cases(mkf, kind, np) -> list[tuple[str, str, Callable[[int], None], int]]:
    """(id, label, loop, loop count weight) for every figure that can be measured."""
    out = []

    def mkf_free(n: int) -> None:
        malloc, free = kind.malloc, kind.free
        for _ in range(n):
            free(malloc(64))

    def mkf_release(n: int) -> None:
        malloc = kind.malloc
        for _ in range(n):
            malloc(64).release()

    def py_bytearray(n: int) -> None:
        for _ in range(n):
            b = bytearray(64)
            del b

    out += [("mkf_malloc_free", "kind.malloc(64) + kind.free", mkf_free, 1),
            ("mkf_malloc_release", "kind.malloc(64) + .release()", mkf_release, 1),
            ("bytearray", "bytearray(64)", py_bytearray, 1)]

    # The raw C calls through the package's own cffi module: the binding's floor.
    ffi, lib = getattr(mkf, "ffi", None), getattr(mkf, "lib", None)
    handle = None
    try:
        handle = kind._heap().kind  # private: the memkind_t the kind wraps
    except Exception:  # noqa: BLE001 - any layout change just drops the row
        handle = None
    if ffi is not None and lib is not None and handle is not None:
        def raw(n: int) -> None:
            m, f = lib.memkind_malloc, lib.memkind_free
            for _ in range(n):
                f(handle, m(handle, 64))

        out.append(("cffi_raw", "raw cffi memkind_malloc/free", raw, 1))
    else:
        print("python_bench: raw cffi row skipped (no ffi/lib or kind handle exposed)")

    if np is not None and hasattr(kind, "zeros"):
        for count in (16, 4096, 1 << 17):  # float64 elements: 128 B, 32 KiB, 1 MiB
            def kz(n: int, count: int = count) -> None:
                z = kind.zeros
                for _ in range(n):
                    a = z(count)
                    del a

            def nz(n: int, count: int = count) -> None:
                z = np.zeros
                for _ in range(n):
                    a = z(count)
                    del a

            weight = 1 if count < 4096 else 10 if count < (1 << 17) else 100
            out += [(f"kind_zeros_{count}", f"kind.zeros({count})", kz, weight),
                    (f"numpy_zeros_{count}", f"numpy.zeros({count})", nz, weight)]
    return out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="counts / 10: a smoke run")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--json", default=os.path.join(HERE, "out", "python.json"))
    a = p.parse_args(argv)
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)

    try:
        import memkind_fixed as mkf
    except Exception as e:  # noqa: BLE001 - ImportError, or a broken build of it
        reason = f"memkind_fixed is not importable: {type(e).__name__}: {e}"
        print(f"python_bench: skipped: {reason}")
        with open(a.json, "w") as f:
            json.dump({"skipped": reason}, f, indent=2)
        return 0
    try:
        import numpy as np
    except ImportError:
        np = None
        print("python_bench: numpy not importable, zeros rows skipped")

    base = 20_000 if a.quick else 200_000
    kind = mkf.FixedKind(size=256 << 20)
    rows = cases(mkf, kind, np)
    samples: dict[str, list[float]] = {r[0]: [] for r in rows}
    for n_rep in range(a.reps):
        for rid, _label, fn, weight in rows[n_rep % len(rows):] + rows[:n_rep % len(rows)]:
            samples[rid].append(timed(fn, max(1, base // weight)))
    kind.close()

    results = []
    for rid, label, _fn, weight in rows:
        s = samples[rid]
        results.append({"id": rid, "label": label, "median": statistics.median(s),
                        "min": min(s), "max": max(s), "calls": max(1, base // weight),
                        "samples": s})
    by_id = {r["id"]: r["median"] for r in results}
    ratios = {}
    if "mkf_malloc_free" in by_id:
        for other in ("bytearray", "cffi_raw"):
            if other in by_id:
                ratios[f"mkf_malloc_free/{other}"] = by_id["mkf_malloc_free"] / by_id[other]
    for rid in list(by_id):
        if rid.startswith("kind_zeros_"):
            n = rid[len("kind_zeros_"):]
            ratios[f"kind_zeros/numpy_zeros_{n}"] = by_id[rid] / by_id[f"numpy_zeros_{n}"]

    print(f"\nPython binding, {platform.python_implementation()} {platform.python_version()}, "
          f"median of {a.reps} [min-max], ns per operation"
          + (" (--quick: a smoke run)" if a.quick else ""))
    for r in results:
        print(f"  {r['label']:36s} {r['median']:10.0f}  [{r['min']:.0f}-{r['max']:.0f}]")
    for k, v in ratios.items():
        print(f"  ratio {k:42s} {v:6.2f}x")
    doc = {"title": "64 B blocks and zeros(n) from Python",
           "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "python": platform.python_version(), "quick": a.quick, "reps": a.reps,
           "unit": "ns/op", "results": results, "ratios": ratios}
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=2)
    print(f"JSON written to {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
