#!/usr/bin/env python3
"""Draw the benchmark's JSON as one PNG: a panel per workload with a bar per
allocator (median, whiskers from min to max), the region-utilisation tests, and
the Python binding's figures when bench/python_bench.py wrote them.

    python3 bench/plot.py [--results bench/out/results.json]
                          [--python bench/out/python.json] [--out bench/out/results.png]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out")

# One colour per allocator, the subject first and stronger; the competitors
# (memkind 1.14, tbbmalloc pool, the mimalloc arenas) after the baselines.
COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#7f7f7f", "#8c564b", "#e377c2",
           "#ff7f0e", "#bcbd22", "#17becf"]


def needs_log(values: list[float]) -> bool:
    """Log scale when the bars differ by more than 20x: the small ones stay visible."""
    pos = [v for v in values if v and v > 0]
    return len(pos) > 1 and max(pos) / min(pos) > 20


def fmt(v: float) -> str:
    return f"{v:.0f}" if v >= 100 else f"{v:.3g}"


def bar_panel(ax, title, unit, labels, medians, lows, highs, subject=0, colours=None,
              notes=None):
    """Bars with min-max whiskers; each labelled with its median and, when
    `subject` is an index, the subject's median over this bar's. A bar without a
    median says notes[i] instead ("absent", "crashed", "failed"; default n/a)."""
    xs = range(len(labels))
    if colours is None:
        colours = [COLOURS[i % len(COLOURS)] for i in xs]
    heights = [m if m is not None else 0 for m in medians]
    err = [
        [max(0.0, (m or 0) - (lo if lo is not None else (m or 0))) for m, lo in zip(medians, lows)],
        [max(0.0, (hi if hi is not None else (m or 0)) - (m or 0)) for m, hi in zip(medians, highs)],
    ]
    ax.bar(xs, heights, color=colours, yerr=err, capsize=3, edgecolor="black", linewidth=0.4)
    if needs_log([m for m in medians if m is not None]):
        ax.set_yscale("log")
        unit += " (log)"
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(unit, fontsize=8)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    base = medians[subject] if subject is not None else None
    for x, m in zip(xs, medians):
        if m is None:
            note = notes[x] if notes and notes[x] else "n/a"
            ax.text(x, 0, note, ha="center", va="bottom", fontsize=6, rotation=90)
            continue
        text = fmt(m)
        if base and x != subject:
            ratio = base / m  # the subject over this baseline
            text += f"\n{ratio:.2g}x" if ratio < 0.01 else f"\n{ratio:.2f}x"
        ax.annotate(text, (x, m), textcoords="offset points", xytext=(0, 2), ha="center",
                    va="bottom", fontsize=6)
    ax.margins(y=0.25)


def draw(results: dict, python: dict | None, out: str) -> None:
    allocs = results["allocators"]
    labels = [a["label"] for a in allocs]
    ids = [a["id"] for a in allocs]
    workloads = results["workloads"]
    util = {k: v for k, v in results.get("utilisation", {}).items() if v}
    panels = len(workloads) + (1 if util else 0) + (1 if python else 0)
    cols = 3
    rows = math.ceil(panels / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 4.4 * rows))
    axes = list(axes.flat) if hasattr(axes, "flat") else [axes]

    for ax, w in zip(axes, workloads):
        med, lo, hi, names, notes, colours = [], [], [], [], [], []
        for k, (aid, label) in enumerate(zip(ids, labels)):
            r = w["results"].get(aid)
            if r is None:
                continue  # the allocator has no such operation (glibc: no kinds)
            names.append(label)
            colours.append(COLOURS[k % len(COLOURS)])
            ok = r.get("ok", False)
            med.append(r["median"] if ok else None)
            lo.append(r["min"] if ok else None)
            hi.append(r["max"] if ok else None)
            notes.append(None if ok else r.get("why", "failed"))
        bar_panel(ax, w["title"], w["unit"], names, med, lo, hi, colours=colours, notes=notes)

    i = len(workloads)
    if util:
        ax = axes[i]
        i += 1
        tests = [("pct_64B", "64 B"), ("pct_4KiB", "4 KiB"), ("pct_1MiB", "1 MiB")]
        extra = [("fit_8MiB", "8 MiB\nfresh"), ("fit_8MiB_after_small", "8 MiB after\n64 B freed"),
                 ("fit_8MiB_after_cross_thread", "8 MiB after\nother thread")]
        # Figures that older JSON files lack: 0 there.
        later = [(lambda u: u.get("mixed_fill_pct"), "mixed\n64 B..1 MiB"),
                 (lambda u: (u.get("reuse_worst") or {}).get("pct"), "reuse A->B\nworst cell"),
                 (lambda u: (u.get("largest_block") or [{}])[-1].get("pct"),
                  "largest\nblock")]
        names = list(util.keys())
        width = 0.8 / len(names)
        groups = [t[1] for t in tests] + [t[1] for t in extra] + [t[1] for t in later]
        for j, name in enumerate(names):
            u = util[name]
            vals = [u[k] for k, _ in tests] + [100.0 * u[k] / 8 for k, _ in extra] + \
                [get(u) or 0.0 for get, _ in later]
            xs = [g + (j - (len(names) - 1) / 2) * width for g in range(len(groups))]
            colour = COLOURS[ids.index(name) % len(COLOURS)] if name in ids else None
            label = labels[ids.index(name)] if name in ids else name
            ax.bar(xs, vals, width=width, color=colour, label=label, edgecolor="black",
                   linewidth=0.4)
            for x, v in zip(xs, vals):
                if v < 5:  # a bar too small to see: say it is zero
                    ax.text(x, 1, f"{v:.0f}", ha="center", va="bottom", fontsize=6)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups, fontsize=6)
        ax.set_ylabel("% of the 64 MiB region handed out", fontsize=8)
        ax.set_ylim(0, 110)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title("Region utilisation (8 MiB: blocks of 8 that fit, as %)", fontsize=9)
        # Below the panel: with the competitors, a legend inside would hide bars.
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=4)

    if python:
        ax = axes[i]
        i += 1
        rows_ = python.get("results", [])
        # memkind_fixed's rows in the subject's colour, the alternatives in grey.
        colours = [COLOURS[0] if r["id"].startswith(("mkf_", "kind_")) else
                   COLOURS[2] if r["id"] == "cffi_raw" else COLOURS[4] for r in rows_]
        bar_panel(ax, "Python: " + python.get("title", "64 B and zeros") +
                  " (red: memkind_fixed)", "ns per op",
                  [r["label"] for r in rows_], [r["median"] for r in rows_],
                  [r["min"] for r in rows_], [r["max"] for r in rows_], subject=None,
                  colours=colours)

    for ax in axes[i:]:
        ax.axis("off")
    note = "quick run: not for comparison" if results.get("quick") else \
        f"median of {results.get('reps')} runs, whiskers min-max"
    fig.suptitle(f"memkind-fixed benchmark, {results.get('date', '')}\n"
                 f"{results.get('machine', '')} - {note} - labels: median and "
                 f"{labels[0]} / that allocator", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"plot written to {out}")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default=os.path.join(OUT, "results.json"))
    p.add_argument("--python", default=os.path.join(OUT, "python.json"))
    p.add_argument("--out", default=os.path.join(OUT, "results.png"))
    a = p.parse_args(argv)
    with open(a.results) as f:
        results = json.load(f)
    python = None
    if os.path.exists(a.python):
        with open(a.python) as f:
            python = json.load(f)
        if python.get("skipped"):
            python = None
    draw(results, python, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
