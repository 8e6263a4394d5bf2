#!/usr/bin/env bash
# install_files.sh PREFIX SO ARCHIVE PC_DIR HEADER COMPAT_DIR
# Copies built files into PREFIX: lib/ (the libraries, without debug info unless
# KEEP_DEBUG=1), include/ (HEADER and fixed_allocator.h beside it), lib/pkgconfig/ and lib/cmake/memkind-fixed/ (from the
# *.pc.in and *.cmake.in templates in PC_DIR). Files go to $DESTDIR$PREFIX; the paths
# written into the .pc files say PREFIX (the CMake files find their prefix from
# their own location). Called by tools/install.sh after `bazel build`, and by
# //tests/install:install_test.
set -euo pipefail
prefix=$1 so=$2 archive=$3 pcdir=$4 header=$5 compat=$6
dest=${DESTDIR:-}$prefix
version=$(awk '/define MEMKIND_FIXED_VERSION_(MAJOR|MINOR|PATCH)/ {v = v (v ? "." : "") $3} END {print v}' "$header")
cmakedir="$dest/lib/cmake/memkind-fixed"
mkdir -p "$dest/lib/pkgconfig" "$dest/include/memkind-fixed-compat/memkind/internal" "$cmakedir"
install -m 0755 "$so" "$dest/lib/libmemkind_fixed.so.0"
ln -sf libmemkind_fixed.so.0 "$dest/lib/libmemkind_fixed.so"
install -m 0644 "$archive" "$dest/lib/libmemkind_fixed.a"
if [ "${KEEP_DEBUG:-0}" = 0 ]; then
    # Bazel builds with -g (tests and debuggers want it); the installed copies do not
    # carry it: 42 MB of the archive is DWARF.
    strip --strip-debug "$dest/lib/libmemkind_fixed.so.0" "$dest/lib/libmemkind_fixed.a"
fi
install -m 0644 "$header" "$dest/include/memkind_fixed.h"
# memkind's C++ allocator, where memkind puts it: <fixed_allocator.h>.
install -m 0644 "$(dirname "$header")/fixed_allocator.h" "$dest/include/fixed_allocator.h"
install -m 0644 "$compat/memkind.h" "$dest/include/memkind-fixed-compat/memkind.h"
for h in "$compat"/memkind/internal/*.h; do
    install -m 0644 "$h" "$dest/include/memkind-fixed-compat/memkind/internal/"
done
for pc in memkind-fixed memkind-fixed-compat; do
    sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" "$pcdir/$pc.pc.in" \
        >"$dest/lib/pkgconfig/$pc.pc"
done
for f in memkind-fixed-config memkind-fixed-config-version; do
    sed -e "s|@VERSION@|$version|" "$pcdir/cmake/$f.cmake.in" >"$cmakedir/$f.cmake"
done
echo "installed memkind-fixed $version into ${DESTDIR:+$DESTDIR}$prefix"
