#!/usr/bin/env bash
# tools/valgrind.sh - valgrind memcheck over the C test suite (//tests/c, plain
# build). Each cc_test binary runs under
#     valgrind --error-exitcode=1 --leak-check=full
# and passes when it exits 0: no invalid read or write, no use of uninitialised
# memory, no leak of the core's own metadata (which comes from libc malloc, so
# memcheck sees it), and the test's own checks hold. Ends with "N passed, N failed".
#
#   tools/valgrind.sh                  all C tests
#   tools/valgrind.sh api_test ...     only these
#   VALGRIND_FLAGS=--track-origins=yes tools/valgrind.sh   where an uninitialised
#                                      value came from (about twice as slow)
#
# What memcheck cannot see: the private jemalloc maps its memory with mmap and
# hands out blocks without telling valgrind, so blocks of MEMKIND_DEFAULT and of
# fixed kinds are plain mapped memory to memcheck (a block overrun inside a region
# is invisible here; guard pages, ASan on the core and the fuzzer cover it).
# Two tests get one option each, for reasons of the test environment, not of the
# library (see per_test below); nothing else is suppressed.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

if ! command -v valgrind >/dev/null; then
    echo "valgrind.sh: valgrind is not installed" >&2
    exit 2
fi
if ! bazel build //tests/c/... 2>&1 | tail -3 | grep -q 'completed successfully'; then
    echo "valgrind.sh: bazel build //tests/c/... failed" >&2
    exit 2
fi
if [ $# -gt 0 ]; then
    tests=("$@")
else
    mapfile -t tests < <(bazel query 'kind("cc_test rule", //tests/c/...)' 2>/dev/null |
        sed 's|^//tests/c:||')
fi
bin=$(bazel info bazel-bin 2>/dev/null)/tests/c
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# fork_test: each child of fork() exits while it still holds a copy of the
# per-thread cache table (tcache.c, entry_for) of the parent's other thread. That
# thread does not exist in the child, so no thread-exit handler can free the copy,
# and memcheck, which does not scan a vanished thread's TLS, calls it definitely
# lost at the child's exit. It is fork(2)'s semantics (glibc's own per-thread
# malloc state stays behind the same way), not a leak of the parent. Only this
# allocation site, only in fork_test.
cat >"$log/fork.supp" <<'SUPP'
{
   fork-child-keeps-vanished-threads-cache-table
   Memcheck:Leak
   match-leak-kinds: definite
   fun:calloc
   fun:entry_for
   fun:mkf_tcache_sel_slow
}
SUPP
per_test() {
    case $1 in
    fork_test) echo "--suppressions=$log/fork.supp" ;;
    # kinds_test checks that 10,000 create/destroy cycles leave the process's
    # address space and RSS as they were. memcheck holds freed blocks back in a 20 MB
    # quarantine (--freelist-vol), which grows both, as ASan's quarantine does
    # (kinds_test skips those two checks under the sanitizers for that reason).
    kinds_test) echo "--freelist-vol=0" ;;
    esac
}

passed=0
failed=0
start=$(date +%s)
for t in "${tests[@]}"; do
    t0=$(date +%s)
    # fork_test's children are traced too (valgrind follows fork without exec).
    if timeout 1200 valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=definite \
        --errors-for-leak-kinds=definite --quiet ${VALGRIND_FLAGS:-} $(per_test "$t") \
        "$bin/$t" >"$log/$t" 2>&1; then
        passed=$((passed + 1))
        echo "PASS $t ($(($(date +%s) - t0)) s)"
    else
        failed=$((failed + 1))
        echo "FAIL $t ($(($(date +%s) - t0)) s)"
        tail -40 "$log/$t"
    fi
done
echo "valgrind: ${#tests[@]} C tests in $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
