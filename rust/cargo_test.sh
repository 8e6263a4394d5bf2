#!/usr/bin/env bash
# cargo_test.sh [test|clippy|skip]: run the Rust workspace's tests (or clippy) offline.
#
# Used by the Bazel tests in rust/BUILD, and usable by hand from anywhere.
# Under Bazel:
#   - the environment has no HOME and a short PATH: both are found again from the
#     user's passwd entry, so that rustup's cargo and the crates that
#     tools/setup.d/rust.sh fetched ($CARGO_HOME/registry) are used;
#   - the workspace is read from the runfiles, cargo writes only to $TEST_TMPDIR;
#   - MEMKIND_FIXED_LIB_DIR points at Bazel's //core:static_archive, so the crates link
#     the very library that Bazel built (cargo run by hand compiles core/src instead).
# No network: --offline --locked.
set -euo pipefail

mode=${1:-test}

if [ -n "${TEST_SRCDIR:-}" ]; then
    top="$TEST_SRCDIR/${TEST_WORKSPACE:-memkind_fixed}"
    export CARGO_TARGET_DIR="$TEST_TMPDIR/target"
    archive="$top/core/libmemkind_fixed.a"
    if [ -f "$archive" ]; then
        # Resolve the runfiles symlink: the folder must hold the archive itself.
        MEMKIND_FIXED_LIB_DIR=$(dirname "$(readlink -f "$archive")")
        export MEMKIND_FIXED_LIB_DIR
    fi
else
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fi

if [ -z "${HOME:-}" ]; then
    HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
    export HOME
fi
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
export PATH="$PATH:$CARGO_HOME/bin"
export CARGO_TERM_COLOR=never

cd "$top/rust"
case "$mode" in
    test)
        cargo test --offline --locked --workspace
        ;;
    clippy)
        cargo clippy --offline --locked --workspace --all-targets -- -D warnings
        cargo fmt --all --check
        ;;
    skip)
        echo "skipped: the Rust tests do not run in sanitizer builds"
        ;;
    *)
        echo "usage: $0 [test|clippy|skip]" >&2
        exit 2
        ;;
esac
