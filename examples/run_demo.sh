#!/usr/bin/env bash
# run_demo.sh DEMO: the demo exits 0 and shows the behaviour it claims.
set -euo pipefail
out=$("$1")
echo "$out"
passed=0 failed=0
expect() {
    if grep -qE "$1" <<<"$out"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "missing: $1" >&2; fi
}
expect 'after freeing them: 8 blocks of 8 MiB fit'
expect 'sum of 1000 ints = 0'
expect '^destroyed: ok'
echo "demo_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
