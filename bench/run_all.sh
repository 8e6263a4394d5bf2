#!/usr/bin/env bash
# Build and run every benchmark of memkind-fixed, and write the table, the JSON and
# the plot into bench/out/ (git-ignored):
#
#     bench/run_all.sh            # full run: about 10 minutes on 2 cores
#     bench/run_all.sh --quick    # counts / 10: a smoke run of under a minute
#
# Outputs:
#   bench/out/results.txt    the C benchmark's table (also printed): the fixed kind
#                            through libmemkind_fixed.so, its baselines and the
#                            competitors of bench/setup_competitors.sh
#   bench/out/results.json   its figures (schema memkind-fixed-bench/1)
#   bench/out/python.txt     the Python binding's table, when memkind_fixed imports
#   bench/out/python.json    its figures, or {"skipped": reason}
#   bench/out/python_shared.txt  numpy arrays to a worker process: SharedKind against
#                            shared_memory and pickling (issue 14); .json its figures
#   bench/out/rust.txt       the Rust crate's collections against the global allocator
#   bench/out/rust_heaps.txt FixedKind against talc and rlsf, each in a region (bench/rust)
#   bench/out/shared.txt     shared heaps side by side (bench/shared/, issue 25): the shared
#                            kind against Boost.Interprocess and rts-alloc, each in
#                            processes of its own; .json its figures (schema
#                            memkind-fixed-shared-bench/1), .md the table for the docs
#   bench/out/results.png    all of it as bars (bench/plot.py)
#
# It first runs `tools/setup.sh --bench`, which installs the competitors and the
# plot's packages (seconds when they are there).
#
# BAZEL_STARTUP_OPTIONS (e.g. "--output_base=/tmp/ob") is passed to every bazel call.
#
# Nothing here fails on timing: the benchmarks print figures and ratios. The script
# fails only when something cannot be built or run. See docs/performance.md.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$top/bench/out"
mkdir -p "$out"
cd "$top"

read -ra bazel_startup <<<"${BAZEL_STARTUP_OPTIONS:-}"
bazel() { command bazel "${bazel_startup[@]}" "$@"; }

quick=()
for a in "$@"; do
    case "$a" in
        --quick) quick=(--quick) ;;
        *) echo "usage: bench/run_all.sh [--quick]" >&2; exit 2 ;;
    esac
done

echo "== set-up with the competitors: tools/setup.sh --bench"
"$top/tools/setup.sh" --bench

echo
echo "== C benchmark: bazel run //bench:bench"
bazel run //bench:bench -- "${quick[@]}" --json "$out/results.json" |
    tee "$out/results.txt"

echo
echo "== Shared heaps side by side: bazel run //bench/shared:shared_bench"
# rts-alloc's C interface as cargo builds it from bench/rust_shared now; without
# cargo, the one bench/setup_competitors.sh left in .deps/bench.
rts_lib=()
if command -v cargo >/dev/null 2>&1 &&
        (cd bench/rust_shared && cargo build -q --release --locked --offline); then
    rts_lib=(--rts-lib "$top/bench/rust_shared/target/release/libmkfbench_rts.so")
fi
bazel run //bench/shared:shared_bench -- "${quick[@]}" "${rts_lib[@]}" \
    --json "$out/shared.json" --markdown "$out/shared.md" | tee "$out/shared.txt"

echo
echo "== Python benchmark"
# The package as pip installed it, or else the cffi module that Bazel builds
# (//python:native) next to the package's sources, in a folder of our own.
pythonpath=${PYTHONPATH:-}
if ! python3 -c "import memkind_fixed" 2>/dev/null; then
    if bazel build //python:native 2>"$out/python_build.log"; then
        pylib="$out/pylib/memkind_fixed"
        rm -rf "$out/pylib"
        mkdir -p "$pylib"
        cp python/memkind_fixed/*.py python/memkind_fixed/py.typed "$pylib/"
        cp "$(bazel info bazel-bin 2>/dev/null)/python/memkind_fixed/_native.so" "$pylib/"
        pythonpath="$out/pylib${pythonpath:+:$pythonpath}"
    else
        echo "(//python:native did not build; see $out/python_build.log)"
    fi
fi
PYTHONPATH="$pythonpath" python3 bench/python_bench.py "${quick[@]}" --json "$out/python.json" |
    tee "$out/python.txt"

echo
echo "== Python shared kind: arrays to a worker process (bench/python_shared_bench.py)"
PYTHONPATH="$pythonpath" python3 bench/python_shared_bench.py "${quick[@]}" \
    --json "$out/python_shared.json" | tee "$out/python_shared.txt"

echo
echo "== Python shared kind: 64 MiB between two Dask workers (bench/python_dask_bench.py)"
PYTHONPATH="$pythonpath" python3 bench/python_dask_bench.py "${quick[@]}" \
    --json "$out/python_dask.json" | tee "$out/python_dask.txt"

echo
echo "== Rust benchmark: cargo run --release --example bench (rust/memkind-fixed)"
if command -v cargo >/dev/null 2>&1; then
    (cd rust && cargo run -q --release --offline --example bench -- "${quick[@]}") |
        tee "$out/rust.txt"
else
    echo "(cargo not found: Rust benchmark skipped)" | tee "$out/rust.txt"
fi

echo
echo "== Rust heaps in a region: cargo run --release (bench/rust): FixedKind, talc, rlsf"
if command -v cargo >/dev/null 2>&1; then
    (cd bench/rust && cargo run -q --release --locked --offline -- "${quick[@]}") |
        tee "$out/rust_heaps.txt"
else
    echo "(cargo not found: Rust heaps benchmark skipped)" | tee "$out/rust_heaps.txt"
fi

echo
echo "== Plot"
# matplotlib is in the venv of tools/setup.sh --bench (bench/requirements.txt).
if [ -x "$top/.deps/bench/venv/bin/python" ]; then
    "$top/.deps/bench/venv/bin/python" bench/plot.py --results "$out/results.json" \
        --python "$out/python.json" --out "$out/results.png"
else
    echo "(no .deps/bench/venv: plot skipped; see the output of tools/setup.sh --bench)"
fi
