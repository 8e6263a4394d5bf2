#!/usr/bin/env bash
# check_fresh.sh: fail when core/include/memkind_fixed.h changed and
# rust/memkind-fixed-sys/src/bindings.rs was not regenerated (bindings/rust/regenerate.sh).
#
# Runs by hand from anywhere, and as the Bazel test //bindings/rust:bindings_fresh_test.
#   1. The header's SHA-256 must match the one recorded in the bindings' "Source:" line.
#      This needs only sha256sum, so it holds on every machine.
#   2. Where the bindgen that made the bindings is installed (same version), the
#      bindings are made again and must be identical: that catches hand edits and
#      options changed in regenerate.sh but not applied.
set -euo pipefail

if [ -n "${TEST_SRCDIR:-}" ]; then
    top="$TEST_SRCDIR/${TEST_WORKSPACE:-memkind_fixed}"
else
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fi
header="$top/core/include/memkind_fixed.h"
bindings="$top/rust/memkind-fixed-sys/src/bindings.rs"
fix="run bindings/rust/regenerate.sh and commit rust/memkind-fixed-sys/src/bindings.rs"

want=$(sed -n 's/^\/\/ Source: core\/include\/memkind_fixed.h sha256 \([0-9a-f]*\)$/\1/p' "$bindings")
have=$(sha256sum "$header" | cut -d' ' -f1)
if [ -z "$want" ]; then
    echo "FAIL: $bindings has no 'Source: ... sha256' line: $fix" >&2
    exit 1
fi
if [ "$want" != "$have" ]; then
    echo "FAIL: the header changed (sha256 $have) since the bindings were made (sha256 $want): $fix" >&2
    exit 1
fi
echo "ok: bindings match the header's checksum"

made_by=$(sed -n '1s/.*rust-bindgen \([0-9.]*\).*/\1/p' "$bindings")
bindgen_bin=${BINDGEN:-bindgen}
if ! command -v "$bindgen_bin" >/dev/null 2>&1; then
    echo "skipped: no bindgen here to compare the full output"
elif [ "$("$bindgen_bin" --version | awk '{print $2}')" != "$made_by" ]; then
    echo "skipped: bindgen $("$bindgen_bin" --version | awk '{print $2}') here, the bindings were made by $made_by"
else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    BINDGEN="$bindgen_bin" bash "$top/bindings/rust/regenerate.sh" "$tmp/bindings.rs" >/dev/null
    if ! diff -u "$bindings" "$tmp/bindings.rs" >"$tmp/diff"; then
        head -40 "$tmp/diff" >&2
        echo "FAIL: the committed bindings differ from bindgen's output: $fix" >&2
        exit 1
    fi
    echo "ok: bindings are what bindgen $made_by makes from the header"
fi
echo "1 passed, 0 failed"
