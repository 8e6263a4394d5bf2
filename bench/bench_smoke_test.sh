#!/usr/bin/env bash
# Runs the benchmark with --quick and checks only that it exits 0 and writes JSON
# that parses and has the expected top-level fields. Never checks timing.
set -euo pipefail
bench=$1
out=${TEST_TMPDIR:-$(mktemp -d)}/results.json
"$bench" --quick --reps 3 --json "$out" >"${TEST_TMPDIR:-/tmp}/bench_stdout.txt"
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
print("bench --quick wrote valid JSON:", len(r["workloads"]), "workloads,",
      len(r["allocators"]), "allocators")
PY
