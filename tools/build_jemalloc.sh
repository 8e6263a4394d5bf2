#!/bin/sh
# build_jemalloc.sh TARBALL FAST_PATH_C OUT
#
# Builds memkind-fixed's private jemalloc from jemalloc's release tarball
# (jemalloc_5.3.0.orig.tar.bz2, as Debian's source package carries it) into OUT:
#
#     OUT/lib/libmkf_jemalloc.a            static, position-independent
#     OUT/include/jemalloc/jemalloc.h
#     OUT/COPYING                          jemalloc's license
#
# Symbol prefix mkf_je_, internal names under mkf_je_internal_, nothing exported,
# no initial-exec TLS (the library is loaded late, by Python's dlopen among others),
# and our explicit-thread-cache fast path (FAST_PATH_C, third_party/jemalloc/
# mkf_tcache_fast.c) compiled inside the configured tree and added to the archive,
# with two calls into it added to jemalloc's src/arena.c (parked slabs).
#
# One script for every build that needs it: tools/setup.sh (checks the tarball
# against Debian's .dsc first), the Python sdist's setup.py and the Rust crate's
# build.rs, which carry the tarball and this script inside the package. POSIX sh,
# make, a C compiler ($CC, default cc), ar, tar and bzip2.
set -eu
if [ "$#" -ne 3 ]; then
    echo "usage: $0 TARBALL FAST_PATH_C OUT" >&2
    exit 2
fi
tarball=$1
fast=$2
out=$3
for f in "$tarball" "$fast"; do
    [ -f "$f" ] || { echo "build_jemalloc.sh: $f not found" >&2; exit 1; }
done
case $tarball in /*) ;; *) tarball=$(pwd)/$tarball ;; esac
case $fast in /*) ;; *) fast=$(pwd)/$fast ;; esac

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mkf-jemalloc.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
jobs=$( (nproc || getconf _NPROCESSORS_ONLN || echo 2) 2>/dev/null | head -n1)

cd "$work"
bzip2 -dc "$tarball" | tar xf -
src=$(ls -d "$work"/jemalloc-*/ | head -n1)
cd "$src"
# -fPIC: the archive goes into shared libraries and Python extensions
# (MKF_JEMALLOC_CFLAGS replaces these base flags). TLS descriptors where the
# compiler has them (gcc on x86-64): in a shared library the access to jemalloc's
# thread state is then an indirect call that clobbers one register, not a call of
# __tls_get_addr around which the fast path saves four (docs/design.md).
cflags=${MKF_JEMALLOC_CFLAGS:--O2 -g -fPIC}
if echo 'int x;' | ${CC:-cc} -mtls-dialect=gnu2 -x c -c -o /dev/null - 2>/dev/null; then
    cflags="$cflags -mtls-dialect=gnu2"
fi
# Parked slabs (mkf_tcache_fast.c, "Parked slabs"): two calls into our file,
# added to arena.c; each edit must apply exactly once.
edit_arena() { # PATTERN REPLACEMENT
    n=$(grep -c "$1" src/arena.c || true)
    [ "$n" = 1 ] || { echo "build_jemalloc.sh: '$1' found $n times in src/arena.c" >&2; exit 1; }
    sed "s|$1|$2|" src/arena.c > src/arena.c.mkf && mv src/arena.c.mkf src/arena.c
}
edit_arena '^arena_slab_dalloc(tsdn_t \*tsdn, arena_t \*arena, edata_t \*slab) {$' \
    '&\n\tif (mkf_je_slab_park(tsdn, arena, slab)) return;'
edit_arena '^[[:space:]]*edata_t \*slab = pa_alloc(tsdn, &arena->pa_shard, bin_info->slab_size,$' \
    '\tedata_t *slab = mkf_je_slab_take(tsdn, arena, binind);\n\tif (slab == NULL) slab = pa_alloc(tsdn, \&arena->pa_shard, bin_info->slab_size,'
edit_arena '^#include "jemalloc/internal/jemalloc_internal_includes.h"$' \
    '&\nbool mkf_je_slab_park(tsdn_t *, arena_t *, edata_t *);\nedata_t *mkf_je_slab_take(tsdn_t *, arena_t *, szind_t);'

CFLAGS="$cflags" ./configure -q \
    --with-jemalloc-prefix=mkf_je_ \
    --with-private-namespace=mkf_je_internal_ \
    --without-export \
    --disable-initial-exec-tls \
    --disable-cxx \
    --disable-doc \
    --disable-libdl >/dev/null
# Only the PIC archive: build_lib_static would compile everything twice.
make -s -j"$jobs" lib/libjemalloc_pic.a >/dev/null

# The fast path, compiled with exactly the flags of jemalloc's own PIC objects
# (the Makefile's variables, the private namespace included).
make -s -f Makefile -f - MKF_SRC="$fast" src/mkf_tcache_fast.pic.o <<'MK'
src/mkf_tcache_fast.pic.o: $(MKF_SRC) include/jemalloc/internal/private_namespace.h
	$(CC) $(CFLAGS) $(PIC_CFLAGS) -c $(CPPFLAGS) -o $@ $(MKF_SRC)
MK
${AR:-ar} rs lib/libjemalloc_pic.a src/mkf_tcache_fast.pic.o 2>/dev/null
syms=$(nm src/mkf_tcache_fast.pic.o)
for sym in mkf_je_tc_malloc mkf_je_tc_free mkf_je_tc_get mkf_je_tc_flush mkf_je_arena_of mkf_je_arena_live \
    mkf_je_block_check mkf_je_arena_coalesce_eagerly mkf_je_arena_recycle \
    mkf_je_tc_discard mkf_je_arena_rebind mkf_je_arena_decay mkf_je_tc_setup \
    mkf_je_slab_park mkf_je_slab_take mkf_je_slab_flush mkf_je_slab_parked mkf_je_tsd \
    mkf_je_tc_postfork_child mkf_je_tc_bin_each; do
    printf '%s\n' "$syms" | grep -q " T $sym\$" || {
        echo "build_jemalloc.sh: $sym missing from mkf_tcache_fast.pic.o" >&2
        exit 1
    }
done

rm -rf "$out/lib" "$out/include"
mkdir -p "$out/lib" "$out/include/jemalloc"
cp lib/libjemalloc_pic.a "$out/lib/libmkf_jemalloc.a"
cp include/jemalloc/jemalloc.h "$out/include/jemalloc/"
cp COPYING "$out/COPYING"
