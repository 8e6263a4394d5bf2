#!/usr/bin/env python3
"""Handing numpy arrays to a worker process: a SharedKind against
multiprocessing.shared_memory (one segment per array) and against pickling the array
through a pipe (issue 14, acceptance item 3; docs/shared.md, "Benchmark").

    python3 bench/python_shared_bench.py [--quick] [--reps N] [--window W]
                                         [--json bench/out/python_shared.json]

One worker process (multiprocessing, spawn), started once and timed on its own. For
4 KiB, 64 KiB and 4 MiB float64 arrays, each method runs the round trip "the parent
allocates and fills an array, hands it to the worker, the worker sums it (reads all
of it) and sends the sum back, the parent checks the sum and frees the array":

  shared_kind      kind.empty(n) of a SharedKind, sent through the Pipe (it pickles as
                   a handle); the parent frees it after the reply (it owns the block)
  shared_handoff   the same, but the parent disown()s it and the worker frees it with
                   kind.free_array (a free from another process: docs/shared.md)
  shared_memory    multiprocessing.shared_memory.SharedMemory(create=True) per array,
                   numpy over its buffer; its name is sent, the worker attaches, sums
                   and closes; the parent closes and unlinks after the reply
  pickle           numpy.empty(n), sent through the same Pipe by value (a copy)

in three modes: "sync", one array in flight (each figure includes a full round
trip of the pipe), "pipelined", up to --window arrays in flight (the throughput of
a producer that keeps the worker busy), and "batch": all N arrays of a size are
allocated and filled first, handed over in one message (a list of arrays, of
handles, or of segment names), the worker sums each (and frees each for
shared_handoff) and replies once with the list of sums; the parent checks them and
frees (closes and unlinks) every array: what a producer that hands many arrays at
once pays per array, without the pipe's floor per message. Figures are µs per
array, median of --reps runs (methods interleaved); ratios are
shared_memory / shared_kind and pickle / shared_kind, per mode. Also allocation
alone: SharedKind.empty(n) + free against FixedKind.empty(n) + free (a private
fixed kind), ns per pair, and the same pairs through the raw cffi calls.

Like the other benchmarks it only measures: it exits 0 whenever it ran (and writes
{"skipped": ...} when memkind_fixed or numpy is not importable). It checks that
/dev/shm holds nothing new after the run and says so (exit 1 if something is left).
"""
from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
SHM_DIR = "/dev/shm"

KiB = 1024
MiB = 1024 * KiB
# (bytes, arrays per run at full scale); --quick divides the counts by 10.
SIZES = [(4 * KiB, 2000), (64 * KiB, 1000), (4 * MiB, 50)]
METHODS = ["shared_kind", "shared_handoff", "shared_memory", "pickle"]
MODES = ["sync", "pipelined", "batch"]


# ----------------------------------------------------------------- the worker

def worker_main(conn: Any) -> None:
    """Receive (method, payload) messages, sum the array, reply with the sum;
    ("batch", method, [payload, ...], count): reply with the list of sums."""
    import numpy as np
    from multiprocessing import shared_memory
    import memkind_fixed  # noqa: F401 - SharedArray handles unpickle through it

    def sum_one(method: str, payload: Any, count: int) -> float:
        if method == "shared_handoff":
            s = float(payload.sum())
            payload.shared_kind.free_array(payload)
            return s
        if method == "shared_memory":
            shm = shared_memory.SharedMemory(name=payload)
            arr = np.ndarray((count,), dtype=np.float64, buffer=shm.buf)
            s = float(arr.sum())
            del arr
            shm.close()
            return s
        return float(payload.sum())

    while True:
        msg = conn.recv()
        tag = msg[0]
        if tag == "stop":
            conn.send("stopped")
            return
        if tag == "ping":
            conn.send("pong")
        elif tag == "batch":
            _, method, payloads, count = msg
            del msg
            sums = []
            for i in range(len(payloads)):
                sums.append(sum_one(method, payloads[i], count))
                payloads[i] = None  # a handed-off block is freed: drop its view now
            del payloads
            conn.send(sums)
        elif tag == "shared_kind" or tag == "pickle":
            conn.send(float(msg[1].sum()))
        elif tag == "shared_handoff":
            arr = msg[1]
            s = float(arr.sum())
            arr.shared_kind.free_array(arr)
            del arr
            conn.send(s)
        elif tag == "shared_memory":
            _, name, count = msg
            shm = shared_memory.SharedMemory(name=name)
            arr = np.ndarray((count,), dtype=np.float64, buffer=shm.buf)
            s = float(arr.sum())
            del arr
            shm.close()
            conn.send(s)
        else:
            conn.send(("error", f"unknown message {tag!r}"))


# ----------------------------------------------------------------- the parent

class Producer:
    """Make, send and free the arrays of one method (all from the parent)."""

    def __init__(self, method: str, kind: Any, np: Any, count: int) -> None:
        from multiprocessing import shared_memory
        self.shm_mod = shared_memory
        self.method, self.kind, self.np, self.count = method, kind, np, count

    def make(self, value: float) -> Tuple[Any, Any]:
        """(message to send, what to keep until the reply)."""
        m = self.method
        if m == "shared_kind":
            a = self.kind.empty(self.count)
            a.fill(value)
            return ("shared_kind", a), a
        if m == "shared_handoff":
            a = self.kind.empty(self.count)
            a.fill(value)
            a.disown()
            return ("shared_handoff", a), a
        if m == "shared_memory":
            shm = self.shm_mod.SharedMemory(create=True, size=self.count * 8)
            a = self.np.ndarray((self.count,), dtype=self.np.float64, buffer=shm.buf)
            a.fill(value)
            del a
            return ("shared_memory", shm.name, self.count), shm
        a = self.np.empty(self.count)
        a.fill(value)
        return ("pickle", a), a

    def make_item(self, value: float) -> Tuple[Any, Any]:
        """For a batch: (what goes in the list, what to keep until the reply)."""
        msg, kept = self.make(value)
        return msg[1], kept

    def done(self, kept: Any) -> None:
        if self.method == "shared_memory":
            kept.close()
            kept.unlink()
        # the other methods: dropping the last reference frees the array (for
        # shared_handoff the worker freed it already: the parent disowned it)


def run_method(conn: Any, prod: Producer, n: int, window: int) -> float:
    """µs per array of n round trips with up to `window` arrays in flight."""
    expect: List[Tuple[float, Any]] = []  # FIFO of (expected sum, kept)
    count = prod.count
    t0 = time.perf_counter_ns()
    sent = 0
    head = 0
    while head < n:
        while sent < n and sent - head < window:
            value = float(sent % 251)
            msg, kept = prod.make(value)
            conn.send(msg)
            del msg
            expect.append((value * count, kept))
            sent += 1
        got = conn.recv()
        want, kept = expect[head]
        expect[head] = None  # type: ignore[call-overload]
        if got != want:
            raise RuntimeError(f"{prod.method}: worker summed {got!r}, expected {want!r}")
        prod.done(kept)
        del kept
        head += 1
    return (time.perf_counter_ns() - t0) / n / 1000.0


def run_batch(conn: Any, prod: Producer, n: int) -> float:
    """µs per array of n arrays made, handed over in one message, summed by the
    worker (one reply: the list of sums), checked and freed."""
    count = prod.count
    t0 = time.perf_counter_ns()
    items: List[Any] = []
    kept: List[Any] = []
    want: List[float] = []
    for i in range(n):
        value = float(i % 251)
        item, k = prod.make_item(value)
        items.append(item)
        kept.append(k)
        want.append(value * count)
    conn.send(("batch", prod.method, items, count))
    del items, item, k
    got = conn.recv()
    if got != want:
        raise RuntimeError(f"{prod.method}: batch of {n}: the worker's sums differ")
    for k in kept:
        prod.done(k)
    del kept, k
    return (time.perf_counter_ns() - t0) / n / 1000.0


def alloc_loop(kind: Any, count: int, n: int) -> float:
    """ns per empty(count) + free (the array's last reference dropped)."""
    empty = kind.empty
    t0 = time.perf_counter_ns()
    for _ in range(n):
        a = empty(count)
        del a
    return (time.perf_counter_ns() - t0) / n


def raw_loop(mkf: Any, kind: Any, nbytes: int, n: int) -> float:
    """ns per memkind_malloc + memkind_free through the package's cffi module: the
    heap's own cost, without the binding's Python layer."""
    lib = mkf.lib
    handle = kind._heap().kind  # private: the memkind_t the kind wraps
    m, f = lib.memkind_malloc, lib.memkind_free
    t0 = time.perf_counter_ns()
    for _ in range(n):
        f(handle, m(handle, nbytes))
    return (time.perf_counter_ns() - t0) / n


def handle_costs(kind: Any, count: int, n: int, reps: int) -> Dict[str, float]:
    """The handle alone, in this process: ns to pickle (as multiprocessing does) and
    unpickle one SharedArray of `count` float64, and per array for a list of n;
    bytes of each. Best of `reps` (these are CPU-bound and short)."""
    import pickle
    from multiprocessing.reduction import ForkingPickler
    dumps, loads = ForkingPickler.dumps, pickle.loads
    one = kind.empty(count)
    many = [kind.empty(count) for _ in range(n)]
    one_b, many_b = bytes(dumps(one)), bytes(dumps(many))

    def best(fn: Callable[[], Any], loops: int) -> float:
        times = []
        for _ in range(reps):
            t0 = time.perf_counter_ns()
            for _ in range(loops):
                fn()
            times.append((time.perf_counter_ns() - t0) / loops)
        return min(times)

    out = {"dumps_one_ns": best(lambda: dumps(one), 2000),
           "loads_one_ns": best(lambda: loads(one_b), 2000),
           "dumps_list_ns": best(lambda: dumps(many), 5) / n,
           "loads_list_ns": best(lambda: loads(many_b), 5) / n,
           "bytes_one": float(len(one_b)), "bytes_list": len(many_b) / n}
    del one, many
    return out


def shm_entries() -> "set[str]":
    try:
        return set(os.listdir(SHM_DIR))
    except FileNotFoundError:
        return set()


def fmt_size(b: int) -> str:
    return f"{b // MiB} MiB" if b >= MiB else f"{b // KiB} KiB"


def main(argv: List[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="counts / 10: a smoke run")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--window", type=int, default=32,
                   help="arrays in flight in the pipelined mode (default 32)")
    p.add_argument("--json", default=os.path.join(HERE, "out", "python_shared.json"))
    a = p.parse_args(argv)
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)

    try:
        import numpy as np
        import memkind_fixed as mkf
        mkf.SharedKind  # noqa: B018 - an older package has no SharedKind
    except Exception as e:  # noqa: BLE001 - ImportError, or a broken build of it
        reason = f"memkind_fixed with SharedKind and numpy are not importable: " \
                 f"{type(e).__name__}: {e}"
        print(f"python_shared_bench: skipped: {reason}")
        with open(a.json, "w") as f:
            json.dump({"skipped": reason}, f, indent=2)
        return 0

    scale = 10 if a.quick else 1
    sizes = [(b, max(4, n // scale)) for b, n in SIZES]
    before = shm_entries()

    # Room for every array in flight of the largest size, every array of a batch,
    # and more.
    heap_size = max(256 * MiB, 4 * a.window * max(b for b, _ in sizes),
                    2 * max(b * n for b, n in sizes))
    # A batch of shared_memory segments holds one descriptor per array (2000 at
    # 4 KiB): raise the soft limit to the hard one if it is lower than that.
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = 2 * max(n for _, n in sizes) + 256
        if soft != resource.RLIM_INFINITY and soft < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY
                                                        else need, hard))
    except (ImportError, ValueError, OSError):
        pass
    kind = mkf.SharedKind.create(heap_size)
    private = mkf.FixedKind(size=heap_size)

    ctx = multiprocessing.get_context("spawn")
    parent_conn, child_conn = ctx.Pipe()
    t0 = time.perf_counter_ns()
    proc = ctx.Process(target=worker_main, args=(child_conn,), daemon=True)
    proc.start()
    parent_conn.send(("ping",))
    assert parent_conn.recv() == "pong"
    start_ms = (time.perf_counter_ns() - t0) / 1e6
    child_conn.close()

    windows = {"sync": 1, "pipelined": max(1, a.window), "batch": 0}
    # samples[mode][size][method] -> [µs per array]
    samples: Dict[str, Dict[int, Dict[str, List[float]]]] = {
        mode: {b: {m: [] for m in METHODS} for b, _ in sizes} for mode in MODES}
    try:
        # Warm-up: the worker attaches the SharedKind, imports, page faults.
        for b, _ in sizes:
            for m in METHODS:
                run_method(parent_conn, Producer(m, kind, np, b // 8), 4, 2)
                run_batch(parent_conn, Producer(m, kind, np, b // 8), 4)
        for rep in range(a.reps):
            for mode in MODES:
                for b, n in sizes:
                    order = METHODS[rep % len(METHODS):] + METHODS[:rep % len(METHODS)]
                    for m in order:
                        prod = Producer(m, kind, np, b // 8)
                        us = (run_batch(parent_conn, prod, n) if mode == "batch"
                              else run_method(parent_conn, prod, n, windows[mode]))
                        samples[mode][b][m].append(us)
        parent_conn.send(("stop",))
        assert parent_conn.recv() == "stopped"
        proc.join(30)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()

    # Allocation alone: a shared kind against a private fixed kind.
    alloc_n = {4 * KiB: 100_000, 64 * KiB: 50_000, 4 * MiB: 5_000}
    alloc: Dict[int, Dict[str, List[float]]] = {
        b: {"shared": [], "private": [], "shared_raw": [], "private_raw": []}
        for b, _ in sizes}
    raw_ok = getattr(mkf, "lib", None) is not None
    for b, _ in sizes:  # warm-up
        alloc_loop(kind, b // 8, 100)
        alloc_loop(private, b // 8, 100)
    for rep in range(a.reps):
        for b, _ in sizes:
            n = max(100, alloc_n[b] // scale)
            pair = [("shared", kind), ("private", private)]
            for name, k in (pair if rep % 2 == 0 else pair[::-1]):
                alloc[b][name].append(alloc_loop(k, b // 8, n))
            if raw_ok:
                for name, k in (pair if rep % 2 == 0 else pair[::-1]):
                    alloc[b][name + "_raw"].append(raw_loop(mkf, k, b, n))
    handle = handle_costs(kind, 64 * KiB // 8, 1000, max(5, a.reps))
    heap_after = kind.stats()
    kind.close()
    private.close()
    del kind, private

    # ------------------------------------------------------------ report
    med = statistics.median
    results: List[Dict[str, Any]] = []
    ratios: Dict[str, float] = {}
    lines: List[str] = []
    lines.append(f"Handing float64 arrays to a worker process and back (spawn), "
                 f"{platform.python_implementation()} {platform.python_version()}, "
                 f"numpy {np.__version__}, {os.cpu_count()} CPUs; median of {a.reps} "
                 f"[min-max], µs per array" + (" (--quick: a smoke run)" if a.quick else ""))
    lines.append(f"worker start (spawn + first reply): {start_ms:.0f} ms")
    for mode in MODES:
        lines.append("")
        lines.append(f"{mode}: " + {
            "sync": "one array in flight",
            "pipelined": f"up to {windows.get(mode)} arrays in flight",
            "batch": "all N arrays in one message, one reply"}[mode])
        hdr = f"  {'size':7s} {'N':>5s}" + "".join(f" {m:>22s}" for m in METHODS) \
            + f" {'shm/kind':>9s} {'pickle/kind':>11s}"
        lines.append(hdr)
        for b, n in sizes:
            row = f"  {fmt_size(b):7s} {n:5d}"
            meds = {}
            for m in METHODS:
                s = samples[mode][b][m]
                meds[m] = med(s)
                row += f" {med(s):9.1f} [{min(s):5.1f}-{max(s):5.1f}]"
                results.append({"mode": mode, "bytes": b, "arrays": n, "method": m,
                                "median_us": med(s), "min_us": min(s), "max_us": max(s),
                                "samples_us": s})
            r_shm = meds["shared_memory"] / meds["shared_kind"]
            r_pk = meds["pickle"] / meds["shared_kind"]
            ratios[f"{mode}/{b}/pickle/shared_handoff"] = \
                meds["pickle"] / meds["shared_handoff"]
            ratios[f"{mode}/{b}/shared_memory/shared_kind"] = r_shm
            ratios[f"{mode}/{b}/pickle/shared_kind"] = r_pk
            ratios[f"{mode}/{b}/shared_memory/shared_handoff"] = \
                meds["shared_memory"] / meds["shared_handoff"]
            row += f" {r_shm:8.2f}x {r_pk:10.2f}x"
            lines.append(row)
    lines.append("")
    lines.append("allocation alone, ns per pair: empty(n) + free (the binding), and "
                 "raw cffi memkind_malloc + memkind_free (the heap)")
    lines.append(f"  {'size':7s} {'SharedKind':>22s} {'FixedKind (private)':>22s} "
                 f"{'shared/private':>14s}")
    alloc_results = []
    for b, _ in sizes:
        sh, pr = alloc[b]["shared"], alloc[b]["private"]
        r = med(sh) / med(pr)
        ratios[f"alloc/{b}/shared/private"] = r
        lines.append(f"  {fmt_size(b):7s} {med(sh):9.0f} [{min(sh):5.0f}-{max(sh):5.0f}]"
                     f" {med(pr):9.0f} [{min(pr):5.0f}-{max(pr):5.0f}] {r:13.2f}x")
        entry = {"bytes": b, "shared_ns": med(sh), "private_ns": med(pr),
                 "shared_samples_ns": sh, "private_samples_ns": pr, "ratio": r}
        if raw_ok:
            shr, prr = alloc[b]["shared_raw"], alloc[b]["private_raw"]
            rr = med(shr) / med(prr)
            ratios[f"alloc_raw/{b}/shared/private"] = rr
            lines.append(f"  {'  raw':7s} {med(shr):9.0f} [{min(shr):5.0f}-{max(shr):5.0f}]"
                         f" {med(prr):9.0f} [{min(prr):5.0f}-{max(prr):5.0f}] {rr:13.2f}x")
            entry.update(shared_raw_ns=med(shr), private_raw_ns=med(prr),
                         shared_raw_samples_ns=shr, private_raw_samples_ns=prr, raw_ratio=rr)
        alloc_results.append(entry)
    lines.append(f"  (shared heap at the end: {heap_after.heap_used} B of pages held, "
                 f"{heap_after.remote_frees} remote frees received by the parent)")
    lines.append("")
    lines.append(f"the handle of a 64 KiB SharedArray, in this process (best of {max(5, a.reps)}): "
                 f"alone {handle['dumps_one_ns']:.0f} ns to pickle, "
                 f"{handle['loads_one_ns']:.0f} ns to unpickle, {handle['bytes_one']:.0f} B; "
                 f"in a list of 1000, per array {handle['dumps_list_ns']:.0f} ns, "
                 f"{handle['loads_list_ns']:.0f} ns, {handle['bytes_list']:.0f} B")

    # Nothing of ours may be left in /dev/shm (give the resource tracker a moment).
    left: List[str] = []
    for _ in range(20):
        left = sorted(shm_entries() - before)
        if not left:
            break
        time.sleep(0.1)
    lines.append("")
    lines.append(f"/dev/shm after the run: "
                 + ("nothing left" if not left else f"LEFT BEHIND: {left}")
                 + f" ({len(before)} entries of others before, untouched)")
    print("\n".join(lines))

    doc = {"title": "numpy arrays to a worker process: SharedKind, shared_memory, pickle",
           "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "python": platform.python_version(), "numpy": np.__version__,
           "cpus": os.cpu_count(), "quick": a.quick, "reps": a.reps,
           "window": windows["pipelined"], "worker_start_ms": start_ms,
           "unit": "us/array", "results": results, "alloc_unit": "ns/pair",
           "alloc": alloc_results, "handle": handle, "ratios": ratios, "shm_left": left}
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=2)
    print(f"JSON written to {a.json}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
