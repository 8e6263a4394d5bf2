#!/usr/bin/env bash
# exports_test.sh LIB: every global symbol LIB defines is part of the public API
# (memkind_* functions, MEMKIND_* variables); jemalloc's and the core's own
# symbols are local. Also: no static-TLS flag, which would stop dlopen(), and no
# NEEDED entry for libstdc++ (a C library; Bazel's toolchain adds -lstdc++).
set -euo pipefail
lib=$1
all=$(nm -D --defined-only "$lib")
# Global symbols have an upper-case type letter.
global=$(awk '$2 ~ /^[A-Z]$/ {print $3}' <<<"$all")
stray=$(grep -v -E '^(memkind_|MEMKIND_)' <<<"$global" || true)
count=$(grep -c . <<<"$global")
passed=0 failed=0
if [ -z "$stray" ] && [ "$count" -ge 50 ]; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    echo "unexpected exports (or too few: $count):" >&2
    echo "$stray" >&2
fi
for sym in memkind_create_fixed memkind_malloc memkind_free memkind_fixed_create \
           MEMKIND_FIXED_OPS MEMKIND_DEFAULT memkind_error_message; do
    if grep -qx "$sym" <<<"$global"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1)); echo "missing export: $sym" >&2
    fi
done
if readelf -d "$lib" | grep -q STATIC_TLS; then
    failed=$((failed + 1)); echo "library needs static TLS" >&2
else
    passed=$((passed + 1))
fi
if readelf -d "$lib" | grep NEEDED | grep -q 'libstdc++'; then
    failed=$((failed + 1)); echo "library needs libstdc++:" >&2; readelf -d "$lib" | grep NEEDED >&2
else
    passed=$((passed + 1))
fi
echo "exports_test: $count public symbols"
echo "exports_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
