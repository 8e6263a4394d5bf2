#!/bin/sh
# run.sh [SECONDS | --ci] [libFuzzer flags...] - build fuzz_ops (build.sh) and
# fuzz for SECONDS (default 60; --ci: 60, a fresh corpus folder), starting from the
# committed seed corpus. New inputs go
# to $FUZZ_OUT/corpus, findings to $FUZZ_OUT/artifacts/ (FUZZ_OUT: /tmp/mkf-fuzz).
# Exits non-zero on any finding. The harness prints "fuzz_ops: N operations ..."
# at exit.
#
#   tests/fuzz/run.sh --ci                 CI: one bounded minute
#   tests/fuzz/run.sh 600 -jobs=2 -workers=2   longer, on two cores
#   $FUZZ_OUT/fuzz_ops FILE                replay one input (a finding)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${FUZZ_OUT:-/tmp/mkf-fuzz}
export FUZZ_OUT=$OUT
SECS=60
if [ "${1:-}" = "--ci" ]; then
    shift
    rm -rf "$OUT/corpus" # each CI run starts from the committed seeds only
elif [ $# -gt 0 ]; then
    SECS=$1
    shift
fi
"$ROOT/tests/fuzz/build.sh"
mkdir -p "$OUT/corpus" "$OUT/artifacts"
# detect_leaks: the core's own metadata (calloc'd) must not leak across inputs.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
exec "$OUT/fuzz_ops" -max_total_time="$SECS" -max_len=4096 -timeout=60 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$OUT/artifacts/" "$@" \
    "$OUT/corpus" "$ROOT/tests/fuzz/corpus"
