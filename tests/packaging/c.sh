#!/usr/bin/env bash
# tests/packaging/c.sh - the C library as its users install and use it, outside the
# repository (run by tools/test.sh; about two minutes):
#   1. DESTDIR=STAGE tools/install.sh PREFIX puts everything under STAGE (nothing in
#      PREFIX) with PREFIX written in the .pc files; the tree is then moved to PREFIX
#      the way a package manager unpacks it;
#   2. the installed files: no libstdc++ in NEEDED, no debug info in the libraries,
#      the licenses, the CMake package;
#   3. the manual pages: `man -w` finds ours through MANPATH, for the overview, for
#      linked function names, the shared API and fixedallocator(3); every exported
#      symbol has a page; after `mandb`, apropos and whatis find them; every page
#      renders without a groff warning;
#   4. tests/consumer/consumer.c built with `cc $(pkg-config ...)` and with CMake
#      (find_package(memkind-fixed CONFIG): shared, static, <memkind.h>), run: every block
#      inside the area, exit code 0; the same for tests/install/fixed_allocator_prog.cc,
#      a C++ program written for memkind's <fixed_allocator.h>;
#   5. tests/consumer/ as a Bazel workspace (memkind_fixed_dependencies()), in its
#      own output base: builds and runs;
#   6. `bazel run //examples:demo` in a fresh output base prints no sandbox debug line.
# Prints one line per check and "packaging c: N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tmp=$(mktemp -d /tmp/mkf-pkg-c.XXXXXX)
bazel_bases=()
cleanup() {
    local ob
    for ob in "${bazel_bases[@]}"; do
        (cd "$tmp" && bazel --output_base="$ob" shutdown >/dev/null 2>&1) || true
    done
    chmod -R u+w "$tmp" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAILED: $*"; }
# check DESCRIPTION COMMAND...: one check, its output kept in $tmp/out.
check() {
    local what=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then ok "$what"; else bad "$what"; tail -n 30 "$tmp/out"; fi
}

prefix=$tmp/prefix
stage=$tmp/stage

# ---------------------------------------------------------------- 1. DESTDIR install
if DESTDIR=$stage "$top/tools/install.sh" "$prefix" >"$tmp/install.log" 2>&1; then
    ok "DESTDIR=$stage tools/install.sh $prefix"
else
    bad "tools/install.sh"
    tail -n 30 "$tmp/install.log"
    echo "packaging c: $passed passed, $((failed + 1)) failed"
    exit 1
fi
if [ ! -e "$prefix" ] && [ -f "$stage$prefix/lib/libmemkind_fixed.so.0" ]; then
    ok "DESTDIR honoured: files under the stage only"
else
    bad "DESTDIR not honoured"
fi
grep -q "note: $prefix/lib is not in the dynamic linker's cache" "$tmp/install.log" &&
    ok "install.sh prints the ldconfig / LD_LIBRARY_PATH note" || bad "no ldconfig note"
grep -qx "prefix=$prefix" "$stage$prefix/lib/pkgconfig/memkind-fixed.pc" &&
    ok "memkind-fixed.pc says prefix=$prefix" || bad "memkind-fixed.pc prefix"
mkdir -p "$(dirname "$prefix")"
mv "$stage$prefix" "$prefix"

# ---------------------------------------------------------------- 2. installed files
so=$prefix/lib/libmemkind_fixed.so.0
needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
case "$needed" in
    *libstdc++*) bad "NEEDED has libstdc++: $needed" ;;
    *) ok "NEEDED: $needed" ;;
esac
a=$prefix/lib/libmemkind_fixed.a
debug_sections=$( (readelf -S -W "$so"; readelf -S -W "$a") | grep -c '\.debug_')
size_a=$(stat -c %s "$a") size_so=$(stat -c %s "$so")
if [ "$debug_sections" -eq 0 ] && [ "$size_a" -lt $((8 << 20)) ]; then
    ok "no debug info: libmemkind_fixed.a $((size_a / 1024)) KiB, .so $((size_so / 1024)) KiB"
else
    bad "debug info installed: $debug_sections .debug_ sections, .a $size_a bytes"
fi
for f in share/doc/memkind-fixed/LICENSE share/doc/memkind-fixed/jemalloc-COPYING \
         lib/cmake/memkind-fixed/memkind-fixed-config.cmake \
         lib/cmake/memkind-fixed/memkind-fixed-config-version.cmake; do
    [ -s "$prefix/$f" ] || bad "missing $f"
done
ok "licenses and CMake package files installed"

# ---------------------------------------------------------------- 3. manual pages
export MANPATH=$prefix/share/man
mandir=$MANPATH/man3
for name in memkind_fixed memkind_malloc memkind_free memkind_create_fixed memkind_destroy_kind \
    memkind_shared_create memkind_shared_ptr fixedallocator; do
    where=$(man -w "$name" 2>/dev/null)
    case "$where" in
        "$mandir"/*) ;;
        *) bad "man -w $name gives '$where', not a page in $mandir" ;;
    esac
done
# Every function and object the library exports has a page (its own or a link).
no_page=()
for sym in $(nm -D --defined-only "$prefix/lib/libmemkind_fixed.so.0" | awk '$2 ~ /^[TDBR]$/ {print $3}'); do
    case "$sym" in memkind_* | MEMKIND_*) ;; *) continue ;; esac
    [ -f "$mandir/$sym.3" ] || no_page+=("$sym")
done
[ "${#no_page[@]}" -eq 0 ] && ok "every exported memkind_* / MEMKIND_* symbol has a man page" ||
    bad "exported without a man page: ${no_page[*]}"
# apropos and whatis read mandb's index: what docs/install.md says to run.
if mandb -q "$MANPATH" >"$tmp/mandb.log" 2>&1 &&
    apropos memkind_shared 2>/dev/null | grep -q '^memkind_shared_create (3)' &&
    whatis fixedallocator 2>/dev/null | grep -q 'C++ allocator'; then
    ok "after mandb: apropos memkind_shared finds $(apropos memkind_shared | grep -c .) pages, whatis fixedallocator"
else
    bad "apropos / whatis after mandb $MANPATH"
    cat "$tmp/mandb.log"
fi
MANWIDTH=80 man memkind_free 2>/dev/null | head -1 | grep -q 'MEMKIND_MALLOC(3)' &&
    ok "man -w finds ours; man memkind_free shows memkind_malloc(3)" || bad "man memkind_free"
pages=0 links=0 warned=0
for page in "$mandir"/*.3; do
    if grep -q '^\.so ' "$page"; then
        links=$((links + 1))
        continue
    fi
    pages=$((pages + 1))
    for width in 80 60; do
        LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -rLL=${width}n -z "$page" 2>>"$tmp/groff.log"
        LC_ALL=C.UTF-8 MANWIDTH=$width man --warnings=w -l "$page" >/dev/null 2>>"$tmp/groff.log"
    done
done
warned=$(grep -c . "$tmp/groff.log")
if [ "$pages" -ge 8 ] && [ "$links" -ge 40 ] && [ "$warned" -eq 0 ]; then
    ok "$pages man pages and $links link pages render without warnings"
else
    bad "man pages: $pages pages, $links links, $warned warning lines"
    head -20 "$tmp/groff.log"
fi
unset MANPATH

# ---------------------------------------------------------------- 4. pkg-config and CMake
cp -r "$top/tests/consumer" "$tmp/consumer"
cp "$top/tests/install/fixed_allocator_prog.cc" "$tmp/consumer/"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# shellcheck disable=SC2046
check "cc \$(pkg-config --cflags --libs memkind-fixed)" \
    cc -Wall -Werror -o "$tmp/pc-consumer" "$tmp/consumer/consumer.c" $(pkg-config --cflags --libs memkind-fixed)
check "pkg-config consumer runs (LD_LIBRARY_PATH=$prefix/lib)" env LD_LIBRARY_PATH="$prefix/lib" "$tmp/pc-consumer"
cat "$tmp/out"
# shellcheck disable=SC2046
check "c++ fixed_allocator_prog.cc \$(pkg-config --cflags --libs memkind-fixed) (<fixed_allocator.h>)" \
    c++ -std=c++11 -Wall -Wextra -Werror -o "$tmp/pc-cxx" "$tmp/consumer/fixed_allocator_prog.cc" \
    $(pkg-config --cflags --libs memkind-fixed)
check "memkind-style C++ program runs" env LD_LIBRARY_PATH="$prefix/lib" "$tmp/pc-cxx"
unset PKG_CONFIG_PATH
check "cmake -DCMAKE_PREFIX_PATH=$prefix: find_package(memkind-fixed 0.1 CONFIG)" \
    cmake -S "$tmp/consumer" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
check "cmake --build" cmake --build "$tmp/cmake-build"
check "CMake consumer runs (shared, rpath from CMake)" "$tmp/cmake-build/consumer"
cat "$tmp/out"
check "CMake consumer runs (memkind-fixed::memkind-fixed-static)" "$tmp/cmake-build/consumer_static"
check "CMake consumer runs (<memkind.h>, memkind-fixed::compat)" "$tmp/cmake-build/consumer_compat"
check "CMake C++ consumer runs (<fixed_allocator.h>, memkind-fixed::memkind-fixed)" \
    "$tmp/cmake-build/fixed_allocator_prog"
readelf -d "$tmp/cmake-build/consumer_static" | grep -q 'libmemkind_fixed' &&
    bad "consumer_static needs libmemkind_fixed.so" || ok "consumer_static does not need libmemkind_fixed.so"

# ---------------------------------------------------------------- 5. Bazel consumer
# Its WORKSPACE points at ../..; moved out of the tree, it is pointed at this checkout.
ob=$tmp/bazel-consumer
bazel_bases+=("$ob")
(
    cd "$tmp/consumer" &&
    bazel --output_base="$ob" --max_idle_secs=60 run --override_repository=memkind_fixed="$top" //:consumer
) >"$tmp/bazel-consumer.log" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q '^consumer: .* ok$' "$tmp/bazel-consumer.log"; then
    ok "Bazel consumer (memkind_fixed_dependencies()): $(grep '^consumer:' "$tmp/bazel-consumer.log")"
else
    bad "Bazel consumer (exit $rc)"
    tail -n 30 "$tmp/bazel-consumer.log"
fi

# ---------------------------------------------------------------- 6. no sandbox debug
ob=$tmp/bazel-demo
bazel_bases+=("$ob")
(cd "$top" && bazel --output_base="$ob" --max_idle_secs=60 run --symlink_prefix=/ //examples:demo) >"$tmp/demo.log" 2>&1
rc=$?
debug=$(grep -c -E 'linux-sandbox[-a-z0-9]*\.cc:|sandbox debug|SANDBOX' "$tmp/demo.log")
if [ "$rc" -eq 0 ] && [ "$debug" -eq 0 ] && grep -q '^destroyed: ok' "$tmp/demo.log"; then
    ok "bazel run //examples:demo from a fresh output base: $(grep -c . "$tmp/demo.log") lines, no sandbox debug"
else
    bad "bazel run //examples:demo: exit $rc, $debug sandbox debug lines"
    grep -m5 -E 'linux-sandbox|ERROR' "$tmp/demo.log"
fi

echo "packaging c: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
