#!/usr/bin/env bash
# package.sh [CARGO_COMMAND [ARGS...]]: make the crates.io packages of memkind-fixed-sys
# and memkind-fixed (`cargo package --workspace`), or run another cargo command that
# packages them, e.g.
#
#     bindings/rust/package.sh                              # target/package/*.crate
#     bindings/rust/package.sh publish --dry-run            # what crates.io would get
#     bindings/rust/package.sh package --no-verify          # without the test build
#
# cargo refuses to package files that git does not track unless --allow-dirty, and
# the copied-in files below are such files by design. So this script checks what
# cargo would check, on the crates' own files (rust/: manifests, sources, lock
# file): uncommitted changes there stop it, as they stop cargo, unless you pass
# --allow-dirty yourself; then it adds --allow-dirty for its copies.
#
# A package holds only files under its crate's folder, so what the build needs from
# the rest of the repository is copied in first, and removed again afterwards (git
# ignores these paths; nothing of it is committed under rust/):
#
#   memkind-fixed-sys/csrc/         core/src and core/include/memkind_fixed.h
#   memkind-fixed-sys/jemalloc/     jemalloc's release tarball (.deps/dist, fetched and
#                                   checked by tools/setup.sh), tools/build_jemalloc.sh
#                                   and third_party/jemalloc/mkf_tcache_fast.c
#   */LICENSE                       ours
#   memkind-fixed-sys/LICENSE-jemalloc   jemalloc's COPYING, from the tarball
#
# The package's build.rs compiles the core and builds jemalloc from these (docs/rust.md).
# --workspace is added: the two crates are packaged together, so memkind-fixed
# resolves memkind-fixed-sys from the fresh package before it is on the registry.
# Packages go to ${CARGO_TARGET_DIR:-rust/target}/package/.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
sys="$top/rust/memkind-fixed-sys"
safe="$top/rust/memkind-fixed"
tarball=$(ls "$top"/.deps/dist/jemalloc_*.orig.tar.bz2 2>/dev/null | head -n1)
if [ -z "$tarball" ]; then
    echo "package.sh: no jemalloc tarball in .deps/dist: run tools/setup.sh first" >&2
    exit 1
fi

allow_dirty=0
for arg in "$@"; do
    [ "$arg" = "--allow-dirty" ] && allow_dirty=1
done
if [ "$allow_dirty" -eq 0 ] && git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    dirty=$(git -C "$top" status --porcelain -- rust/Cargo.toml rust/Cargo.lock \
        rust/memkind-fixed rust/memkind-fixed-sys)
    if [ -n "$dirty" ]; then
        echo "package.sh: the crates have changes not committed into git:" >&2
        echo "$dirty" >&2
        echo "commit them, or pass --allow-dirty to package them anyway" >&2
        exit 1
    fi
fi

staged=("$sys/csrc" "$sys/jemalloc" "$sys/LICENSE" "$sys/LICENSE-jemalloc" "$safe/LICENSE")
cleanup() { rm -rf "${staged[@]}"; }
trap cleanup EXIT
cleanup
mkdir -p "$sys/csrc/src/shared" "$sys/csrc/include" "$sys/jemalloc"
cp "$top"/core/src/*.c "$top"/core/src/*.h "$sys/csrc/src/"
cp "$top"/core/src/shared/*.c "$top"/core/src/shared/*.h "$sys/csrc/src/shared/"
cp "$top/core/include/memkind_fixed.h" "$sys/csrc/include/"
cp "$tarball" "$top/tools/build_jemalloc.sh" "$top/third_party/jemalloc/mkf_tcache_fast.c" \
    "$sys/jemalloc/"
cp "$top/LICENSE" "$sys/LICENSE"
cp "$top/LICENSE" "$safe/LICENSE"
bzip2 -dc "$tarball" | tar xf - -O --wildcards '*/COPYING' >"$sys/LICENSE-jemalloc"
[ -s "$sys/LICENSE-jemalloc" ] || { echo "package.sh: no COPYING in $tarball" >&2; exit 1; }

cd "$top/rust"
if [ "$#" -eq 0 ]; then
    set -- package
fi
# The copies above are untracked by design (see the top); the crates' own files were
# checked above unless the caller allowed dirt.
extra=()
case "$1" in
    package | publish) [ "$allow_dirty" -eq 1 ] || extra=(--allow-dirty) ;;
esac
cargo "$@" "${extra[@]}" --workspace
