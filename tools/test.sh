#!/usr/bin/env bash
# tools/test.sh - every test of the project, as CI runs them (.ci/run calls this
# after tools/setup.sh). Run from anywhere:
#
#     tools/test.sh            # all of the below
#     tools/test.sh --quick    # only `bazel test //...`
#
#   0. tools/layers.py                         the core's files call only down
#   1. bazel test //...                        C, Python, Rust, Java, examples
#   2. bazel test --config=asan  (C tests)     AddressSanitizer + UBSan
#   3. bazel test --config=tsan  (C tests)     ThreadSanitizer
#   4. the extra checks of tests/fuzz and tools/valgrind.sh, bounded in time
#   5. the packaging checks, tests/packaging/*.sh: each builds a package the way its
#      users' tools do (wheel, sdist, crate, jar, make install) and uses it from a
#      directory outside the repository
#   6. tests/docs/run_docs.py: every command and code block of README.md and docs/
#      run as printed (C with -Werror, Rust with clippy -D warnings, Python with
#      mypy --strict); what it does not run it lists, each with its reason
#
# Ends with one line "tests: N passed, N failed" over all of them.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Runs a bazel test command and counts its targets' results.
bazel_tests() {
    local label=$1
    shift
    echo "== $label: bazel test $*"
    bazel test "$@" 2>&1 | tee "$log" | grep -E '^//|^Executed|^ERROR|^FAIL' || true
    local rc=${PIPESTATUS[0]}
    local p f
    p=$(grep -cE '^//.*(PASSED|cached\) PASSED)' "$log" || true)
    f=$(grep -cE '^//.* (FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD|INCOMPLETE)' "$log" || true)
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1 # a build error before any test ran
        grep -E 'ERROR|error:' "$log" | head -20
    fi
    echo "$label: $p passed, $f failed"
    passed=$((passed + p))
    failed=$((failed + f))
}

# Runs a command that is one check.
check() {
    local label=$1
    shift
    echo "== $label: $*"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "$label: FAILED"
    fi
}

# The core's layers call only down (docs/design.md, "Layers"): tools/layers.py.
check "layers" python3 tools/layers.py
bazel_tests "all" //...
if [ "${1:-}" != "--quick" ]; then
    sanitized=(//tests/c/...)
    [ -d tests/stress ] && sanitized+=(//tests/stress/...)
    [ -d tests/fuzz ] && sanitized+=(//tests/fuzz/...)
    bazel_tests "asan" --config=asan "${sanitized[@]}"
    bazel_tests "tsan" --config=tsan "${sanitized[@]}"
    [ -x tests/fuzz/run.sh ] && check "fuzz" tests/fuzz/run.sh --ci
    [ -x tools/valgrind.sh ] && check "valgrind" tools/valgrind.sh
    for pkg in tests/packaging/*.sh; do
        [ -x "$pkg" ] && check "packaging $(basename "$pkg" .sh)" "$pkg"
    done
    check "docs" python3 tests/docs/run_docs.py
fi

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
