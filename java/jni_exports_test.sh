#!/usr/bin/env bash
# jni_exports_test.sh LIB: the JNI library exports JNI functions (Java_*) only, so
# the core and jemalloc inside it stay private, it needs no static TLS (which
# would stop the JVM from loading it with dlopen), and it needs no libstdc++ (the jar
# carries it to machines that may not have one).
set -euo pipefail
lib=$1
passed=0 failed=0
global=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[A-Z]$/ {print $3}')
stray=$(grep -v '^Java_org_memkind_fixed_' <<<"$global" || true)
if [ -z "$stray" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "unexpected exports: $stray" >&2; fi
if grep -q '^Java_org_memkind_fixed_MemkindFixedJNI_memkind_1malloc$' <<<"$global"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1)); echo "JNI functions missing" >&2
fi
if readelf -d "$lib" | grep -q STATIC_TLS; then
    failed=$((failed + 1)); echo "library needs static TLS" >&2
else
    passed=$((passed + 1))
fi
if readelf -d "$lib" | grep -q 'NEEDED.*libstdc++'; then
    failed=$((failed + 1)); echo "library needs libstdc++" >&2
else
    passed=$((passed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
