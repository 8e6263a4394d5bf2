#!/usr/bin/env bash
# install_files.sh PREFIX SO ARCHIVE PC_DIR HEADER COMPAT_DIR
# Copies built files into PREFIX (lib/, include/, lib/pkgconfig/). Called by
# tools/install.sh after `bazel build`, and by //tests/install:install_test.
set -euo pipefail
prefix=$1 so=$2 archive=$3 pcdir=$4 header=$5 compat=$6
version=$(awk '/define MEMKIND_FIXED_VERSION_(MAJOR|MINOR|PATCH)/ {v = v (v ? "." : "") $3} END {print v}' "$header")
mkdir -p "$prefix/lib/pkgconfig" "$prefix/include/memkind-fixed-compat/memkind/internal"
install -m 0755 "$so" "$prefix/lib/libmemkind_fixed.so.0"
ln -sf libmemkind_fixed.so.0 "$prefix/lib/libmemkind_fixed.so"
install -m 0644 "$archive" "$prefix/lib/libmemkind_fixed.a"
install -m 0644 "$header" "$prefix/include/memkind_fixed.h"
install -m 0644 "$compat/memkind.h" "$prefix/include/memkind-fixed-compat/memkind.h"
for h in "$compat"/memkind/internal/*.h; do
    install -m 0644 "$h" "$prefix/include/memkind-fixed-compat/memkind/internal/"
done
for pc in memkind-fixed memkind-fixed-compat; do
    sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" "$pcdir/$pc.pc.in" \
        >"$prefix/lib/pkgconfig/$pc.pc"
done
echo "installed memkind-fixed $version into $prefix"
