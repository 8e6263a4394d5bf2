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
assert len(r["workloads"]) == 5, r["workloads"]
print("bench --quick wrote valid JSON:", len(r["workloads"]), "workloads,",
      len(r["allocators"]), "allocators")
PY
