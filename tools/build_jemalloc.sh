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
#
# Built once per machine: a finished build is kept in a cache folder,
#     ${MKF_JEMALLOC_CACHE:-${XDG_CACHE_HOME:-~/.cache}/memkind-fixed/jemalloc}/KEY/
# where KEY is a hash of everything that decides the archive: the tarball's
# SHA-256, this script, the fast-path file, the C flags, the compiler (its path and
# `--version`) and the archiver. A build with the same KEY (set-up, the wheel, the
# sdist's pip install, the crate's build.rs, in any folder) copies the cached files
# into OUT in a second. MKF_JEMALLOC_CACHE=off builds without the cache. A build
# prints progress lines "[jemalloc] ..." (unpack, configure, compile N/M, archive)
# on stderr, and also on the terminal (/dev/tty) when stderr is not one: pip and
# cargo capture the output of builds, so the lines would otherwise not be seen.
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

# Progress lines: stderr, and the terminal when stderr is not it (see above).
tty=
if [ ! -t 2 ] && [ "${MKF_JEMALLOC_TTY:-1}" != 0 ] && (: >/dev/tty) 2>/dev/null; then
    tty=/dev/tty
fi
progress() {
    printf '[jemalloc] %s\n' "$*" >&2
    if [ -n "$tty" ]; then printf '[jemalloc] %s\n' "$*" >"$tty" 2>/dev/null || true; fi
}

# -fPIC: the archive goes into shared libraries and Python extensions
# (MKF_JEMALLOC_CFLAGS replaces these base flags). TLS descriptors where the
# compiler has them (gcc on x86-64): in a shared library the access to jemalloc's
# thread state is then an indirect call that clobbers one register, not a call of
# __tls_get_addr around which the fast path saves four (docs/design.md).
cflags=${MKF_JEMALLOC_CFLAGS:--O2 -g -fPIC}
if echo 'int x;' | ${CC:-cc} -mtls-dialect=gnu2 -x c -c -o /dev/null - 2>/dev/null; then
    cflags="$cflags -mtls-dialect=gnu2"
fi

# The cache (see above): its KEY hashes every input of the build.
cache=${MKF_JEMALLOC_CACHE:-}
if [ -z "$cache" ]; then
    if [ -n "${XDG_CACHE_HOME:-}" ]; then
        cache=$XDG_CACHE_HOME/memkind-fixed/jemalloc
    elif [ -n "${HOME:-}" ]; then
        cache=$HOME/.cache/memkind-fixed/jemalloc
    else
        cache=off
    fi
fi
key=$({
    printf 'tarball %s\n' "$(sha256sum "$tarball" | cut -d' ' -f1)"
    printf 'script %s\n' "$(sha256sum "$0" | cut -d' ' -f1)"
    printf 'fast %s\n' "$(sha256sum "$fast" | cut -d' ' -f1)"
    printf 'cflags %s\ncc %s\nar %s\n' "$cflags" "${CC:-cc}" "${AR:-ar}"
    ${CC:-cc} --version 2>/dev/null | head -n1
} | sha256sum | cut -c1-24)
entry=$cache/$key
# copy_build FROM TO: the files that OUT holds.
copy_build() {
    rm -rf "$2/lib" "$2/include"
    mkdir -p "$2/lib" "$2/include/jemalloc"
    cp "$1/lib/libmkf_jemalloc.a" "$2/lib/libmkf_jemalloc.a"
    cp "$1/include/jemalloc/jemalloc.h" "$2/include/jemalloc/"
    cp "$1/COPYING" "$2/COPYING"
}
if [ "$cache" != off ] && [ -f "$entry/.complete" ]; then
    copy_build "$entry" "$out"
    progress "reused the cached build $entry"
    exit 0
fi

started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/mkf-jemalloc.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
jobs=$( (nproc || getconf _NPROCESSORS_ONLN || echo 2) 2>/dev/null | head -n1)

progress "unpacking $(basename "$tarball") (no cached build for key $key)"
cd "$work"
bzip2 -dc "$tarball" | tar xf -
src=$(ls -d "$work"/jemalloc-*/ | head -n1)
cd "$src"
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

progress "configure (prefix mkf_je_, CFLAGS $cflags)"
CFLAGS="$cflags" ./configure -q \
    --with-jemalloc-prefix=mkf_je_ \
    --with-private-namespace=mkf_je_internal_ \
    --without-export \
    --disable-initial-exec-tls \
    --disable-cxx \
    --disable-doc \
    --disable-libdl >/dev/null
# Only the PIC archive: build_lib_static would compile everything twice. Each
# source is compiled twice: once to list its symbols (.sym.o, for the private
# namespace), once for the archive (.pic.o). make echoes each command; awk counts
# the compiler runs for the progress lines, passes on warnings and errors, and
# exits with make's status.
total=$(($(ls src/*.c | grep -cv '/zone\.c$') * 2)) # zone.c: macOS only
progress "compile: $total compiler runs, make -j$jobs"
{ make -j"$jobs" lib/libjemalloc_pic.a 2>&1; echo "mkf-make-status $?"; } |
    awk -v total="$total" -v tty="$tty" '
        /^mkf-make-status / { status = $2; next }
        / -c .*-o src\/[^ ]*\.(sym|pic)\.o / {
            n++
            if (n % 20 == 0) {
                line = sprintf("[jemalloc] compile %d/%d", n, total)
                print line > "/dev/stderr"
                if (tty != "") print line > tty
            }
            next
        }
        /[Ee]rror|[Ww]arning:|\*\*\*/ && !/modifier ignored/ { print > "/dev/stderr" }
        END {
            line = sprintf("[jemalloc] compile done: %d compiler runs", n)
            print line > "/dev/stderr"
            if (tty != "") print line > tty
            exit status
        }'

# The fast path, compiled with exactly the flags of jemalloc's own PIC objects
# (the Makefile's variables, the private namespace included).
make -s -f Makefile -f - MKF_SRC="$fast" src/mkf_tcache_fast.pic.o <<'MK'
src/mkf_tcache_fast.pic.o: $(MKF_SRC) include/jemalloc/internal/private_namespace.h
	$(CC) $(CFLAGS) $(PIC_CFLAGS) -c $(CPPFLAGS) -o $@ $(MKF_SRC)
MK
progress "archive: libmkf_jemalloc.a with our fast path"
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

mkdir -p "$work/result/lib" "$work/result/include/jemalloc"
cp lib/libjemalloc_pic.a "$work/result/lib/libmkf_jemalloc.a"
cp include/jemalloc/jemalloc.h "$work/result/include/jemalloc/"
cp COPYING "$work/result/COPYING"
copy_build "$work/result" "$out"

# Into the cache: a new folder beside the entry, renamed into place when complete
# (a concurrent build of the same key keeps whichever finished first). A cache
# that cannot be written costs only the next build.
if [ "$cache" != off ] && mkdir -p "$cache" 2>/dev/null; then
    stage=$(mktemp -d "$cache/.new-$key.XXXXXX" 2>/dev/null) &&
        copy_build "$work/result" "$stage" && : >"$stage/.complete" &&
        { [ -e "$entry" ] || mv "$stage" "$entry" 2>/dev/null || true; }
    [ -n "${stage:-}" ] && rm -rf "$stage"
    [ -f "$entry/.complete" ] && progress "cached as $entry"
fi
progress "built in $(($(date +%s) - started)) s"
