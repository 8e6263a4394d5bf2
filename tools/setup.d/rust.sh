# Rust bindings (rust/): fetch the crates pinned in rust/Cargo.lock into the cargo
# registry cache, so that `cargo test` and Bazel's //rust tests run offline.
# Sourced by tools/setup.sh with $top, $deps, log and as_root set.
#
# Rust itself comes with the machine (rustup's stable toolchain, cargo in
# ~/.cargo/bin); bindgen and libclang are Debian packages installed in step 1 and are
# only needed to regenerate the bindings (bindings/rust/regenerate.sh).
rust_cargo=$(command -v cargo || echo "${CARGO_HOME:-$HOME/.cargo}/bin/cargo")
if [ ! -x "$rust_cargo" ]; then
    log "rust: cargo not found; install Rust with rustup to build rust/"
else
    rust_stamp="$deps/.rust-$(sha256sum "$top/rust/Cargo.lock" | cut -c1-16)"
    if [ ! -f "$rust_stamp" ]; then
        log "rust: fetching the pinned crates (cargo fetch --locked)"
        (cd "$top/rust" && "$rust_cargo" fetch --locked -q)
        # clippy and rustfmt for //rust:cargo_clippy_test (no-ops when present).
        if command -v rustup >/dev/null 2>&1; then
            rustup component add clippy rustfmt >/dev/null 2>&1 || true
        fi
        touch "$rust_stamp"
    fi
fi
unset rust_cargo rust_stamp
