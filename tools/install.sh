#!/usr/bin/env bash
# tools/install.sh [PREFIX]: build the library and install it under PREFIX
# (default /usr/local): lib/libmemkind_fixed.so{,.0}, lib/libmemkind_fixed.a,
# include/memkind_fixed.h, include/memkind-fixed-compat/ (memkind.h for programs
# written against memkind), lib/pkgconfig/memkind-fixed{,-compat}.pc, and the
# licenses: share/doc/memkind-fixed/LICENSE and jemalloc-COPYING (jemalloc is linked in).
set -euo pipefail
prefix=${1:-/usr/local}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
bazel build //core:libmemkind_fixed.so //core:static_archive
bin=$(bazel info bazel-bin 2>/dev/null)
"$top/tools/install_files.sh" "$prefix" "$bin/core/libmemkind_fixed.so" \
    "$bin/core/libmemkind_fixed.a" "$top/core" "$top/core/include/memkind_fixed.h" \
    "$top/core/compat"
mkdir -p "$prefix/share/doc/memkind-fixed"
install -m 0644 "$top/LICENSE" "$prefix/share/doc/memkind-fixed/LICENSE"
install -m 0644 "$top/.deps/jemalloc/COPYING" "$prefix/share/doc/memkind-fixed/jemalloc-COPYING"
