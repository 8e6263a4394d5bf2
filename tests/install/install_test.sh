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

# A C++ program written for memkind's fixed allocator, against the installed headers
# only: <fixed_allocator.h> and <memkind_fixed.h> must come from the prefix (-H lists
# every header opened), and no memkind.h from anywhere. Then the same under ASan.
prog=tests/install/fixed_allocator_prog.cc
cxxflags=(-std=c++11 -Wall -Wextra -Werror)
c++ "${cxxflags[@]}" -H -o "$TEST_TMPDIR/cxx" "$prog" $(pkg-config --cflags --libs memkind-fixed) \
    2>"$TEST_TMPDIR/headers.txt"
result $? "c++ fixed_allocator_prog.cc \$(pkg-config --cflags --libs memkind-fixed)"
grep -q "^\. $prefix/include/fixed_allocator.h\$" "$TEST_TMPDIR/headers.txt" &&
    grep -q "^\.\. $prefix/include/memkind_fixed.h\$" "$TEST_TMPDIR/headers.txt" &&
    ! grep -q "memkind\.h\$" "$TEST_TMPDIR/headers.txt"
result $? "the installed headers: $(grep -E 'fixed_allocator|memkind' "$TEST_TMPDIR/headers.txt" | tr '\n' ' ')"
LD_LIBRARY_PATH="$prefix/lib" "$TEST_TMPDIR/cxx"; result $? "C++ program runs"
c++ "${cxxflags[@]}" -fsanitize=address,undefined -fno-sanitize-recover=all -g -o "$TEST_TMPDIR/cxx-asan" \
    "$prog" $(pkg-config --cflags --libs memkind-fixed)
result $? "c++ -fsanitize=address,undefined"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LD_LIBRARY_PATH="$prefix/lib" "$TEST_TMPDIR/cxx-asan"
result $? "C++ program runs under ASan"
echo "install_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
