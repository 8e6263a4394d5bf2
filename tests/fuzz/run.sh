#!/bin/sh
# run.sh [SECONDS | --ci] [libFuzzer flags...] - build fuzz_ops (build.sh) and
# fuzz for SECONDS (default 60; --ci: 60, a fresh corpus folder), starting from the
# committed seed corpus. New inputs go
# to $FUZZ_OUT/corpus, findings to $FUZZ_OUT/artifacts/ (FUZZ_OUT: /tmp/mkf-fuzz).
# Exits non-zero on any finding. The harness prints "fuzz_ops: N operations ..."
# at exit. With --ci, libFuzzer's progress goes to $FUZZ_OUT/fuzz.log and only the
# summary (and on a finding, the end of the log) is printed.
#
#   tests/fuzz/run.sh --ci                 CI: one bounded minute
#   tests/fuzz/run.sh 600 -jobs=2 -workers=2   longer, on two cores
#   $FUZZ_OUT/fuzz_ops FILE                replay one input (a finding)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${FUZZ_OUT:-/tmp/mkf-fuzz}
export FUZZ_OUT=$OUT
SECS=60
CI=0
if [ "${1:-}" = "--ci" ]; then
    shift
    CI=1
    rm -rf "$OUT/corpus" # each CI run starts from the committed seeds only
elif [ $# -gt 0 ]; then
    SECS=$1
    shift
fi
"$ROOT/tests/fuzz/build.sh"
mkdir -p "$OUT/corpus" "$OUT/artifacts"
# detect_leaks: the core's own metadata (calloc'd) must not leak across inputs.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
set -- -max_total_time="$SECS" -max_len=4096 -timeout=60 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$OUT/artifacts/" "$@" \
    "$OUT/corpus" "$ROOT/tests/fuzz/corpus"
if [ "$CI" -eq 0 ]; then
    exec "$OUT/fuzz_ops" "$@"
fi
# CI: libFuzzer's progress (a line per new input, thousands a minute) goes to
# $OUT/fuzz.log; print the summary, and the end of the log on a finding.
rc=0
"$OUT/fuzz_ops" "$@" >"$OUT/fuzz.log" 2>&1 || rc=$?
grep -E '^(#[0-9]+[[:space:]]+DONE|stat::|fuzz_ops:|Done [0-9]+ runs)' "$OUT/fuzz.log" || true
if [ "$rc" -ne 0 ]; then
    echo "fuzz: libFuzzer exited with $rc; the end of $OUT/fuzz.log:" >&2
    tail -n 60 "$OUT/fuzz.log" >&2
fi
echo "fuzz: $(grep -c . "$OUT/fuzz.log") lines of progress in $OUT/fuzz.log, exit $rc"
exit "$rc"
