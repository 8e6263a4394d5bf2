#!/bin/sh
# run.sh [SECONDS | --ci] [libFuzzer flags...] - build the harnesses (build.sh) and
# fuzz each, starting from its committed seed corpus: fuzz_ops (the API, seeds in
# corpus/) for SECONDS (default 60; --ci: 60, a fresh corpus folder), then
# fuzz_segment (a damaged shared heap, seeds in corpus_segment/) for half as long.
# FUZZ_TARGET=fuzz_ops or fuzz_segment runs only that one. New inputs go to
# $FUZZ_OUT/<target>.d/corpus, findings to $FUZZ_OUT/<target>.d/artifacts/ (FUZZ_OUT:
# /tmp/mkf-fuzz). Exits non-zero on any finding. Each harness prints a summary
# line at exit. With --ci, libFuzzer's progress goes to $FUZZ_OUT/<target>.log and
# only the summary (and on a finding, the end of the log) is printed.
#
#   tests/fuzz/run.sh --ci                         CI: one bounded minute and a half
#   tests/fuzz/run.sh 600 -jobs=2 -workers=2       longer, on two cores
#   FUZZ_TARGET=fuzz_segment tests/fuzz/run.sh 1800
#   $FUZZ_OUT/fuzz_ops FILE                        replay one input (a finding)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${FUZZ_OUT:-/tmp/mkf-fuzz}
export FUZZ_OUT=$OUT
SECS=60
CI=0
if [ "${1:-}" = "--ci" ]; then
    shift
    CI=1
elif [ $# -gt 0 ]; then
    SECS=$1
    shift
fi
"$ROOT/tests/fuzz/build.sh"
# detect_leaks: the core's own metadata (calloc'd) must not leak across inputs.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# run_target NAME SECONDS SEEDS [libFuzzer flags...]
run_target() {
    name=$1 secs=$2 seeds=$3
    shift 3
    dir=$OUT/$name.d
    [ "$CI" -eq 1 ] && rm -rf "$dir/corpus" # each CI run starts from the committed seeds
    mkdir -p "$dir/corpus" "$dir/artifacts"
    set -- -max_total_time="$secs" -max_len=4096 -timeout=60 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "$@" \
        "$dir/corpus" "$seeds"
    if [ "$CI" -eq 0 ]; then
        "$OUT/$name" "$@"
        return
    fi
    # CI: libFuzzer's progress (a line per new input, thousands a minute) goes to
    # the log; print the summary, and the end of the log on a finding.
    rc=0
    "$OUT/$name" "$@" >"$OUT/$name.log" 2>&1 || rc=$?
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::|fuzz_ops:|fuzz_segment:|Done [0-9]+ runs)' \
        "$OUT/$name.log" || true
    if [ "$rc" -ne 0 ]; then
        echo "fuzz: $name: libFuzzer exited with $rc; the end of $OUT/$name.log:" >&2
        tail -n 60 "$OUT/$name.log" >&2
    fi
    echo "fuzz: $name: $(grep -c . "$OUT/$name.log") lines of progress, exit $rc"
    return "$rc"
}

target=${FUZZ_TARGET:-all}
rc=0
if [ "$target" = all ] || [ "$target" = fuzz_ops ]; then
    run_target fuzz_ops "$SECS" "$ROOT/tests/fuzz/corpus" "$@" || rc=$?
fi
if [ "$target" = all ] || [ "$target" = fuzz_segment ]; then
    run_target fuzz_segment $((SECS / 2 > 0 ? SECS / 2 : 1)) "$ROOT/tests/fuzz/corpus_segment" \
        "$@" || rc=$?
fi
exit "$rc"
