#!/bin/sh
# build.sh - build the libFuzzer harnesses fuzz_ops (the API) and fuzz_segment (a
# damaged shared heap) with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer, against the core's sources and the private jemalloc
# archive (which stays uninstrumented: it is built with gcc by tools/setup.sh).
#
#   tests/fuzz/build.sh            -> $FUZZ_OUT/fuzz_ops, $FUZZ_OUT/fuzz_segment
#                                     (FUZZ_OUT: /tmp/mkf-fuzz)
#
# The core is compiled with coverage instrumentation (fuzzer-no-link) so that
# libFuzzer is guided by the core's branches, not only the harness's.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${FUZZ_OUT:-/tmp/mkf-fuzz}
CC=${CC_FUZZ:-clang}
JE=$ROOT/.deps/jemalloc
[ -f "$JE/lib/libmkf_jemalloc.a" ] || { echo "build.sh: run tools/setup.sh first (no $JE)" >&2; exit 2; }
mkdir -p "$OUT/obj"

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
COMMON="-std=gnu11 -D_GNU_SOURCE -g -O1 $SAN -I$ROOT/core/include -I$JE/include"

rm -f "$OUT"/obj/*.o
for src in "$ROOT"/core/src/*.c "$ROOT"/core/src/shared/*.c; do
    $CC $COMMON -fsanitize=fuzzer-no-link -fvisibility=hidden -I"$ROOT/core/src" \
        -c "$src" -o "$OUT/obj/$(basename "$src" .c).o"
done
mkdir -p "$OUT/harness"
$CC $COMMON -fsanitize=fuzzer -I"$ROOT" -Wall -Wextra -Werror \
    -c "$ROOT/tests/fuzz/fuzz_ops.c" -o "$OUT/harness/fuzz_ops.o"
$CC $COMMON -fsanitize=fuzzer -I"$ROOT/core/src" -Wall -Wextra -Werror \
    -c "$ROOT/tests/fuzz/fuzz_segment.c" -o "$OUT/harness/fuzz_segment.o"
for t in fuzz_ops fuzz_segment; do
    $CC $SAN -fsanitize=fuzzer "$OUT"/obj/*.o "$OUT/harness/$t.o" "$JE/lib/libmkf_jemalloc.a" \
        -lnuma -lpthread -ldl -lm -o "$OUT/$t"
    echo "built $OUT/$t"
done
