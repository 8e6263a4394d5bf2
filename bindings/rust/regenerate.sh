#!/usr/bin/env bash
# regenerate.sh [OUT]: write the raw Rust bindings of core/include/memkind_fixed.h.
#
# The bindings are committed (rust/memkind-fixed-sys/src/bindings.rs) so that a plain
# `cargo build` needs no libclang. Run this after every change to the public header;
# check_fresh.sh (a Bazel test) fails until you do. OUT defaults to the committed file.
#
# Needs Debian's `bindgen` CLI (0.60, package "bindgen") and libclang. The first line
# of the output records the SHA-256 of the header the bindings were made from.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
header=core/include/memkind_fixed.h
out=${1:-$top/rust/memkind-fixed-sys/src/bindings.rs}
bindgen=${BINDGEN:-bindgen}

# The options, one per line, so that a change to them shows in review.
opts=(
    --allowlist-function 'memkind_.*'
    --allowlist-type 'memkind_.*|MEMKIND_.*'
    --allowlist-var 'memkind_.*|MEMKIND_.*'
    # C enums stay integers: a Rust enum given an unknown value is undefined behaviour.
    --default-enum-style consts
    --no-prepend-enum-name
    --size_t-is-usize
    --use-core
    --ctypes-prefix '::core::ffi'
    --no-layout-tests
    --raw-line "// Source: $header sha256 $(cd "$top" && sha256sum "$header" | cut -d' ' -f1)"
    # POSIX cksum (CRC and length) of the header: memkind-fixed-sys's build.rs checks
    # it when it compiles the core, so stale bindings fail the build, not the heap.
    --raw-line "// Source cksum: $(cd "$top" && cksum <"$header")"
)

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# Relative paths, so that no machine's folder names end up in the output.
(cd "$top" && "$bindgen" "${opts[@]}" "$header" -- -Icore/include) >"$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out"
