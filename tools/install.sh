#!/usr/bin/env bash
# tools/install.sh [--keep-debug] [PREFIX]: build the library and install it under
# PREFIX (default /usr/local):
#   lib/libmemkind_fixed.so{,.0}, lib/libmemkind_fixed.a   (without debug info unless
#                                                           --keep-debug)
#   include/memkind_fixed.h, include/fixed_allocator.h     (memkind's C++ allocator)
#   include/memkind-fixed-compat/                          (memkind.h for programs
#                                                           written against memkind)
#   lib/pkgconfig/memkind-fixed{,-compat}.pc
#   lib/cmake/memkind-fixed/                               find_package(memkind-fixed CONFIG)
#   share/man/man3/                                        memkind_fixed(3), memkind_malloc(3), ...,
#                                                          memkind_shared_create(3), fixedallocator(3)
#                                                          (indexed with mandb unless DESTDIR is set)
#   share/doc/memkind-fixed/LICENSE, jemalloc-COPYING      (jemalloc is linked in)
#
# DESTDIR=/stage tools/install.sh /usr puts the files under /stage/usr while the
# paths written into them say /usr (for packaging). Run it as the user who builds:
# where PREFIX is not writable it copies through sudo (in a root shell, directly).
# After a plain install into a system prefix, it runs ldconfig and mandb; otherwise
# it says how the dynamic linker finds the library.
set -euo pipefail
keep_debug=0
if [ "${1:-}" = "--keep-debug" ]; then
    keep_debug=1
    shift
fi
prefix=${1:-/usr/local}
case "$prefix" in
    /*) ;;
    *) echo "install.sh: PREFIX must be an absolute path (got $prefix)" >&2; exit 2 ;;
esac
prefix=${prefix%/}
destdir=${DESTDIR:-}
dest=$destdir$prefix
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
bazel build //core:libmemkind_fixed.so //core:static_archive
bin=$(bazel info bazel-bin 2>/dev/null)

# The build is the user's; writing into PREFIX is done as the user where the folder
# is writable, else through sudo (a system prefix run by a user: the README's
# `tools/install.sh /usr/local` works in a root shell and for a user with sudo).
writable=$dest
while [ ! -e "$writable" ]; do writable=$(dirname "$writable"); done
priv=()
if [ "$(id -u)" -ne 0 ] && [ ! -w "$writable" ]; then
    if ! command -v sudo >/dev/null; then
        echo "install.sh: $writable is not writable: run as root, install sudo, or choose another PREFIX" >&2
        exit 1
    fi
    priv=(sudo)
fi
"${priv[@]}" env DESTDIR="$destdir" KEEP_DEBUG=$keep_debug "$top/tools/install_files.sh" "$prefix" \
    "$bin/core/libmemkind_fixed.so" "$bin/core/libmemkind_fixed.a" "$top/core" \
    "$top/core/include/memkind_fixed.h" "$top/core/compat"
"${priv[@]}" mkdir -p "$dest/share/doc/memkind-fixed"
"${priv[@]}" install -m 0644 "$top/LICENSE" "$dest/share/doc/memkind-fixed/LICENSE"
"${priv[@]}" install -m 0644 "$top/.deps/jemalloc/COPYING" "$dest/share/doc/memkind-fixed/jemalloc-COPYING"
mandir="$dest/share/man/man3"
"${priv[@]}" mkdir -p "$mandir"
"${priv[@]}" python3 "$top/tools/gen_man.py" "$top/docs/api.md" "$top/core/include/memkind_fixed.h" "$mandir"
# apropos and whatis read mandb's index, not the pages: index them now, unless the
# files are staged for a package (its installation runs mandb, as Debian's trigger does).
if [ -z "$destdir" ] && command -v mandb >/dev/null; then
    "${priv[@]}" mandb -q "$prefix/share/man" 2>/dev/null ||
        echo "note: 'mandb $prefix/share/man' failed; run it to make apropos find the pages"
fi

# The dynamic linker reads its cache (ldconfig) and LD_LIBRARY_PATH, nothing else.
libdir=$prefix/lib
if [ -z "$destdir" ] && { [ "$(id -u)" -eq 0 ] || [ "${#priv[@]}" -gt 0 ]; } &&
    command -v ldconfig >/dev/null; then
    "${priv[@]}" ldconfig
fi
if [ -n "$destdir" ] || ! ldconfig -p 2>/dev/null | grep -qF "=> $libdir/libmemkind_fixed.so.0"; then
    echo "note: $libdir is not in the dynamic linker's cache. Programs linked against"
    echo "      libmemkind_fixed.so find it once you run, as root (after unpacking a DESTDIR tree),"
    echo "          echo $libdir > /etc/ld.so.conf.d/memkind-fixed.conf && ldconfig"
    echo "      or with LD_LIBRARY_PATH=$libdir, or link with -Wl,-rpath,$libdir."
    echo "      (CMake adds that rpath by itself to programs of its build tree.)"
fi
