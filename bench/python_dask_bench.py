#!/usr/bin/env python3
"""Handing a 64 MiB array from one Dask worker to another (issue 24): a SharedKind's
SharedArray (a handle, memkind_fixed.dask) against a plain numpy array (Dask's
default path: the bytes through the workers' TCP connection), on a LocalCluster of
two worker processes on 127.0.0.1.

    python3 bench/python_dask_bench.py [--quick] [--reps 5] [--mib 64]
                                       [--json bench/out/python_dask.json]

Each round makes the array on worker A (not timed), then times a task on worker B
that takes it and reads its two ends: the hand-off plus one task's scheduling. The
methods alternate; the figures are medians of --reps rounds, with a 16-element
array's round (the scheduling floor) for reference. Exits 0 when it ran, and also
(writing {"skipped": ...}) when numpy, distributed or memkind_fixed is missing.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ("shared", "numpy", "floor")


def make(kind: Any, method: str, n: int) -> Any:
    import numpy
    if method == "shared":
        a = kind.empty(n)
    else:
        a = numpy.empty(n)
    a[:] = 1.0
    return a


def ends(a: Any) -> float:
    return float(a[0] + a[-1])


def main(argv: List[str]) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 rounds: a smoke run")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--mib", type=int, default=64)
    p.add_argument("--json", default=os.path.join(HERE, "out", "python_dask.json"))
    a = p.parse_args(argv)
    if a.quick:
        a.reps = 2
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    try:
        import cloudpickle
        import distributed

        import memkind_fixed as mkf
        import memkind_fixed.dask  # noqa: F401 - the client sends none, but be explicit
    except Exception as e:  # noqa: BLE001
        reason = f"not importable: {type(e).__name__}: {e}"
        print(f"python_dask_bench: skipped: {reason}")
        with open(a.json, "w") as f:
            json.dump({"skipped": reason}, f, indent=2)
        return 0
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    os.environ["PYTHONPATH"] = os.pathsep.join(x for x in sys.path if x)

    n = (a.mib << 20) // 8
    times: Dict[str, List[float]] = {m: [] for m in METHODS}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", protocol="tcp", dashboard_address=None,
                                  silence_logs=40) as cluster, \
            distributed.Client(cluster) as client, \
            mkf.SharedKind.create(max(4, 4 * a.mib) << 20) as kind:
        wa, wb = sorted(client.scheduler_info()["workers"])
        for rep in range(a.reps + 1):  # the first round warms up imports and connections
            for method in METHODS:
                x = client.submit(make, kind, "numpy" if method == "floor" else method,
                                  16 if method == "floor" else n, workers=[wa], pure=False)
                distributed.wait(x, timeout=120)
                t0 = time.perf_counter()
                y = client.submit(ends, x, workers=[wb], pure=False)
                assert y.result(timeout=120) == 2.0
                if rep:
                    times[method].append(time.perf_counter() - t0)
                del x, y
    median = {m: statistics.median(t) for m, t in times.items()}
    print(f"\nDask hand-off of a {a.mib} MiB float64 array between two LocalCluster "
          f"workers (processes, 127.0.0.1), median of {a.reps}:")
    labels = {"shared": "SharedKind (handle)", "numpy": "numpy (Dask's default)",
              "floor": "16 elements (scheduling floor)"}
    for m in METHODS:
        print(f"  {labels[m]:32s} {median[m] * 1e3:8.2f} ms   "
              f"[{min(times[m]) * 1e3:.2f}-{max(times[m]) * 1e3:.2f}]")
    print(f"  ratio numpy / SharedKind           {median['numpy'] / median['shared']:6.1f}x")
    with open(a.json, "w") as f:
        json.dump({"title": "Dask hand-off between two workers",
                   "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                   "mib": a.mib, "reps": a.reps, "unit": "s", "samples": times,
                   "median": median}, f, indent=2)
    print(f"JSON written to {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
