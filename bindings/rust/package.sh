#!/usr/bin/env bash
# package.sh [OUT_DIR]: make the crates.io package of memkind-fixed-sys.
#
# A package can only hold files under its own folder, so the core's C source
# (core/src, core/include) is copied into rust/memkind-fixed-sys/csrc/ first; the
# package's build.rs compiles it from there (with the `bundled` feature, jemalloc
# comes from tikv-jemalloc-sys). csrc/ is ignored by git and removed afterwards.
# Writes memkind-fixed-sys-<version>.crate into OUT_DIR (default rust/target/package).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
crate="$top/rust/memkind-fixed-sys"
csrc="$crate/csrc"
trap 'rm -rf "$csrc"' EXIT
rm -rf "$csrc" && mkdir -p "$csrc/src" "$csrc/include"
cp "$top"/core/src/*.c "$top"/core/src/*.h "$csrc/src/"
cp "$top/core/include/memkind_fixed.h" "$csrc/include/"

cd "$top/rust"
# --no-verify: verifying would build the package against the repository's core/,
# which is found first; test the package outside the repository instead (docs/rust.md).
cargo package -p memkind-fixed-sys --allow-dirty --no-verify --offline -q
out=${1:-$top/rust/target/package}
mkdir -p "$out"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$top/rust/Cargo.toml" | head -1)
pkg="${CARGO_TARGET_DIR:-$top/rust/target}/package/memkind-fixed-sys-$version.crate"
[ "$(dirname "$pkg")" = "$out" ] || cp "$pkg" "$out/"
echo "wrote $out/memkind-fixed-sys-$version.crate"
