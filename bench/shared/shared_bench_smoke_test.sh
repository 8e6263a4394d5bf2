#!/usr/bin/env bash
# Runs the shared-heap benchmark with tiny counts (one repetition, 64 MiB segments)
# and checks only that it exits 0 and writes JSON that parses, with every row and
# every heap in it (figures, or why not). Never checks timing.
# The competitors come from the workspace's .deps/bench (bench/setup_competitors.sh),
# found through this script's own source file; without them they show as absent.
set -euo pipefail
script=$1
worker=$2
tmp=${TEST_TMPDIR:-$(mktemp -d)}
deps=()
ws=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
[ -d "$ws/.deps/bench" ] && deps=(--deps "$ws/.deps/bench")
python3 "$script" --worker "$worker" --scale 0.0005 --reps 1 --segment 64M --sizes 64M \
    "${deps[@]}" --json "$tmp/shared.json" --markdown "$tmp/shared.md" >"$tmp/stdout.txt"
python3 - "$tmp/shared.json" <<'PY'
import json, sys
with open(sys.argv[1]) as f:
    r = json.load(f)
assert r["schema"] == "memkind-fixed-shared-bench/1", r.get("schema")
for key in ("machine", "heaps", "rows", "ratios_shared_over", "targets"):
    assert key in r, f"missing {key}"
ids = [row["id"] for row in r["rows"]]
assert ids[:2] == ["pair64", "prodcons256"] and "random4" in ids and "lifecycle_64M" in ids, ids
heaps = {h["id"]: h for h in r["heaps"]}
assert set(heaps) >= {"mkf_shared", "mkf_private", "boost_rbtree", "boost_seqfit", "rts_alloc"}
for row in r["rows"]:
    # The subject always measures; every other heap has figures or says why not.
    assert "values" in row["results"]["mkf_shared"], (row["id"], row["results"]["mkf_shared"])
    for h, res in row["results"].items():
        assert "values" in res or {"na", "absent", "error"} & set(res), (row["id"], h, res)
assert {t["id"] for t in r["targets"]} == {"PAIR64", "PRODCONS", "LARGE_256K", "LARGE_1M",
                                           "RANDOM4", "LIFECYCLE"}
loaded = [h for h, v in heaps.items() if v["absent"] is None]
print("shared_bench wrote valid JSON:", len(r["rows"]), "rows; heaps loaded:", ", ".join(loaded))
PY
