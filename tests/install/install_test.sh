#!/usr/bin/env bash
# Install into a temporary prefix, then build tests/c/compat_test.c (a program
# written against memkind's <memkind.h>) with pkg-config, dynamically and
# statically, and run both.
set -euo pipefail
prefix="$TEST_TMPDIR/prefix"
tools/install_files.sh "$prefix" core/libmemkind_fixed.so core/libmemkind_fixed.a core \
    core/include/memkind_fixed.h core/compat
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
passed=0 failed=0
result() { if [ "$1" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "failed: $2" >&2; fi; }

cc -o "$TEST_TMPDIR/dyn" tests/c/compat_test.c $(pkg-config --cflags --libs memkind-fixed-compat)
LD_LIBRARY_PATH="$prefix/lib" "$TEST_TMPDIR/dyn"; result $? "dynamic build"
cc -o "$TEST_TMPDIR/static" tests/c/compat_test.c $(pkg-config --cflags memkind-fixed-compat) \
    "$prefix/lib/libmemkind_fixed.a" $(pkg-config --static --libs-only-l memkind-fixed | sed 's/-lmemkind_fixed//')
"$TEST_TMPDIR/static"; result $? "static build"
version=$(pkg-config --modversion memkind-fixed); [ -n "$version" ]; result $? "version $version"
echo "install_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
