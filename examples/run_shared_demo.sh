#!/usr/bin/env bash
# run_shared_demo.sh DEMO: runs examples/shared_demo.c's program (docs/shared.md's C
# example) and checks what it says and that it leaves nothing in /dev/shm.
set -uo pipefail
before=$(ls /dev/shm | grep -c '^mkf-demo-' || true)
out=$("$1")
rc=$?
echo "$out"
passed=0 failed=0
check() {
    if eval "$1"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "failed: $1" >&2; fi
}
check '[ "$rc" -eq 0 ]'
check 'grep -qE "other process: block at offset [0-9]+ is 0x[0-9a-f]+ here, sum 499500$" <<<"$out"'
check 'grep -qE "holds 0 bytes allocated, 1 remote free" <<<"$out"'
check 'grep -qx ok <<<"$out"'
after=$(ls /dev/shm | grep -c '^mkf-demo-' || true)
check '[ "$after" -le "$before" ]'
echo "shared_demo_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
