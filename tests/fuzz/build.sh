#!/bin/sh
# build.sh - build the libFuzzer harness fuzz_ops with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer, against the core's sources and the private jemalloc
# archive (which stays uninstrumented: it is built with gcc by tools/setup.sh).
#
#   tests/fuzz/build.sh            -> $FUZZ_OUT/fuzz_ops  (FUZZ_OUT: /tmp/mkf-fuzz)
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
$CC $COMMON -fsanitize=fuzzer -I"$ROOT" -Wall -Wextra -Werror \
    -c "$ROOT/tests/fuzz/fuzz_ops.c" -o "$OUT/obj/fuzz_ops.o"
$CC $SAN -fsanitize=fuzzer "$OUT"/obj/*.o "$JE/lib/libmkf_jemalloc.a" \
    -lnuma -lpthread -ldl -lm -o "$OUT/fuzz_ops"
echo "built $OUT/fuzz_ops"
