#!/usr/bin/env bash
# Runs the benchmark with --quick and checks only that it exits 0 and writes JSON
# that parses and has the expected top-level fields. Never checks timing.
# The competitors come from the workspace's .deps/bench (bench/setup_competitors.sh),
# found through this script's own source file; without it they show as absent.
set -euo pipefail
bench=$1
out=${TEST_TMPDIR:-$(mktemp -d)}/results.json
deps=()
ws=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
[ -d "$ws/.deps/bench" ] && deps=(--deps "$ws/.deps/bench")
"$bench" --quick --reps 3 "${deps[@]}" --json "$out" >"${TEST_TMPDIR:-/tmp}/bench_stdout.txt"
python3 - "$out" <<'PY'
import json, sys
with open(sys.argv[1]) as f:
    r = json.load(f)
for key in ("allocators", "workloads", "utilisation", "ratios_fixed_over", "targets"):
    assert key in r, f"missing {key}"
assert r["quick"] is True
assert len(r["workloads"]) == 6, r["workloads"]
assert "f_realloc_doubling" in r["ratios_fixed_over"]["glibc"]
assert "d_256KiB" in r["ratios_fixed_over"]["glibc"]
assert {t["id"] for t in r["targets"]} >= {"REALLOC", "LARGE_GLIBC", "U8M", "FRAG_MALLOC"}
u = r["utilisation"]["memkind_fixed"]
for key in ("fresh_pct", "reuse_pct", "reuse_worst", "largest_block", "fragmented",
            "mixed_fill_pct"):
    assert key in u, f"utilisation: missing {key}"
assert len(u["reuse_pct"]) == 6 and all(len(row) == 6 for row in u["reuse_pct"])
assert r["utilisation"]["glibc"] is None  # no caller region: n/a
assert "memkind_fixed_purge" in r["ratios_fixed_over"]  # the PURGE variant beside the plain kind
# The fixed kind is measured through the shared library.
assert r["allocators"][0]["label"] == "memkind-fixed .so", r["allocators"][0]
# Every competitor has a column: figures, or why it is absent or crashed.
comp = [a for a in r["allocators"] if a["competitor"]]
assert {a["id"] for a in comp} >= {"memkind_1_14", "tbbmalloc_pool", "mimalloc_2_0_9"}, comp
loaded = [a["id"] for a in comp if a["absent"] is None]
for a in comp:
    res = r["workloads"][0]["results"][a["id"]]
    assert res is not None and (res["ok"] or "why" in res), (a, res)
    assert a["id"] in r["ratios_fixed_over"]
assert "best_competitor" in r
print("bench --quick wrote valid JSON:", len(r["workloads"]), "workloads,",
      len(r["allocators"]), "allocators, competitors loaded:", ", ".join(loaded) or "none")
PY
