#!/usr/bin/env bash
# tests/packaging/rust.sh: the Rust crates as their users get them (issue 13, item 3).
#
#   0. a plain `cargo package` in rust/ fails with a message naming package.sh;
#   1. bindings/rust/package.sh makes both .crate files (cargo package --workspace);
#      they hold the licenses, the C source and jemalloc's tarball, under 10 MB.
#   2. In a temporary folder outside the repository, the packages are unpacked and a
#      new edition-2024 project depends on them by version, redirected to the unpacked
#      folders with [patch.crates-io]: no repository path, no .deps. It builds with
#      default features (jemalloc built from the package's tarball), runs the README's
#      Rust example with checks, and compiles and runs docs/rust.md's snippets.
#   3. A second project uses tikv-jemallocator as its global allocator beside
#      memkind-fixed (one CARGO_TARGET_DIR for both projects).
#   4. The docs build with DOCS_RS=1 and CC=false (no C toolchain used).
#   5. cargo publish --dry-run for both crates (package.sh publish --dry-run).
#
# Needs what tools/setup.sh installs (Rust, a C compiler, make, bzip2, libnuma-dev,
# .deps/dist's tarball) and crates.io. Prints a short summary; exit status 1 on failure.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH="$PATH:${CARGO_HOME:-${HOME:-~}/.cargo}/bin"
export CARGO_TERM_COLOR=never
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mkf-rust-pkg.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export CARGO_TARGET_DIR="$tmp/target"
unset MEMKIND_FIXED_LIB_DIR MEMKIND_FIXED_JEMALLOC_DIR DOCS_RS

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
# run LOG CMD...: runs CMD with its output in $tmp/LOG, shown (the end) on failure.
run() {
    local log="$tmp/$1.log"
    shift
    if ! "$@" >"$log" 2>&1; then
        tail -40 "$log" >&2
        fail "$* (log above)"
    fi
}
start=$SECONDS

# 0. A plain `cargo package` in rust/ (without package.sh's copies) fails, and says
#    what to run instead. --allow-dirty: so that it gets as far in a working tree
#    with changes as in a clean clone.
if (cd "$top/rust" && cargo package --offline --allow-dirty -p memkind-fixed-sys) >"$tmp/plain.log" 2>&1; then
    fail "a plain cargo package in rust/ succeeded without the C sources"
fi
grep -q 'run bindings/rust/package.sh instead' "$tmp/plain.log" ||
    { tail -20 "$tmp/plain.log" >&2; fail "a plain cargo package does not name bindings/rust/package.sh"; }
echo "ok: a plain cargo package in rust/ fails and names bindings/rust/package.sh"

# 1. The packages.
run package "$top/bindings/rust/package.sh" package --no-verify --allow-dirty
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$top/rust/Cargo.toml" | head -n1)
mkdir -p "$tmp/vendor"
for crate in memkind-fixed-sys memkind-fixed; do
    file="$CARGO_TARGET_DIR/package/$crate-$version.crate"
    [ -f "$file" ] || fail "$file was not made"
    size=$(stat -c %s "$file")
    [ "$size" -lt 10000000 ] || fail "$crate: $size bytes, over crates.io's 10 MB"
    tar xzf "$file" -C "$tmp/vendor"
    dir="$tmp/vendor/$crate-$version"
    [ -s "$dir/LICENSE" ] || fail "$crate: no LICENSE in the package"
    grep -q '^license = "BSD-3-Clause' "$dir/Cargo.toml" || fail "$crate: no license field"
    # Caret ranges only: an exact pin (=x.y.z) breaks resolution in users' projects.
    if grep -n 'version = "=' "$dir/Cargo.toml"; then
        fail "$crate: exact version pins in its manifest"
    fi
    echo "ok: $crate-$version.crate, $((size / 1024)) KiB"
done
sys="$tmp/vendor/memkind-fixed-sys-$version"
cmp -s "$sys/LICENSE-jemalloc" "$top/.deps/jemalloc/COPYING" ||
    fail "memkind-fixed-sys: LICENSE-jemalloc is not jemalloc's COPYING"
for f in jemalloc/build_jemalloc.sh jemalloc/mkf_tcache_fast.c csrc/include/memkind_fixed.h; do
    [ -f "$sys/$f" ] || fail "memkind-fixed-sys: $f missing from the package"
done
ls "$sys"/jemalloc/jemalloc_*.tar.bz2 >/dev/null || fail "memkind-fixed-sys: no jemalloc tarball"
echo "ok: licenses (ours, jemalloc's), C source and jemalloc's tarball in the packages"

# A project of the user's: depends on the crates by version; [patch.crates-io] makes
# cargo take them from the unpacked packages (as if from the registry).
new_project() {
    local dir=$1
    shift
    mkdir -p "$dir/src" "$dir/examples"
    {
        printf '[package]\nname = "%s"\nversion = "0.0.0"\nedition = "2024"\npublish = false\n\n' \
            "$(basename "$dir")"
        printf '[dependencies]\nmemkind-fixed = "%s"\nallocator-api2 = "0.2"\n' "${version%.*}"
        for dep in "$@"; do printf '%s\n' "$dep"; done
        printf '\n[patch.crates-io]\n'
        printf 'memkind-fixed = { path = "%s" }\n' "$tmp/vendor/memkind-fixed-$version"
        printf 'memkind-fixed-sys = { path = "%s" }\n' "$sys"
    } >"$dir/Cargo.toml"
}

# The ```rust blocks of a Markdown file, one file each: FILE.1.rs, FILE.2.rs, ...
# (fence indentation removed).
extract_rust() {
    awk -v out="$2" '
        !inb && /^ *```rust *$/ { inb = 1; n++; ind = index($0, "`") - 1; next }
        inb && /^ *``` *$/ { inb = 0; next }
        inb { print substr($0, ind + 1) > (out "." n ".rs") }
    ' "$1"
}

# A snippet as a program: as it is when it has a main, else inside one that returns
# Result (rustdoc's rule), followed by the lines of $2.
as_program() {
    if grep -q 'fn main' "$1"; then
        cat "$1"
    else
        echo 'fn main() -> Result<(), Box<dyn std::error::Error>> {'
        cat "$1"
        printf '%s\n' "${2:-}"
        echo '    Ok(())'
        echo '}'
    fi
}

# 2. A new project on the packages: the README example, with checks, as its main.
app="$tmp/app"
new_project "$app"
extract_rust "$top/README.md" "$tmp/readme"
[ -f "$tmp/readme.1.rs" ] || fail "README.md has no Rust example"
as_program "$tmp/readme.1.rs" '
    let (start, len) = kind.region();
    let (first, last) = (v.as_ptr() as usize, v.as_ptr() as usize + v.len() * 8);
    assert!(first >= start as usize && last <= start as usize + len, "Vec outside the region");
    let sum: u64 = v.iter().sum();
    assert_eq!(sum, 499_999_500_000);
    println!("README example: {} elements, sum {sum}, data {first:#x} in region {:#x}+{len:#x}",
             v.len(), start as usize);' >"$app/src/main.rs"
extract_rust "$top/docs/rust.md" "$tmp/rustmd"
snippets=0
for f in "$tmp"/rustmd.*.rs; do
    snippets=$((snippets + 1))
    as_program "$f" >"$app/examples/rust_md_$snippets.rs"
done
[ "$snippets" -ge 3 ] || fail "docs/rust.md: $snippets Rust snippets found, expected at least 3"

build_start=$SECONDS
(cd "$app" && run app-build cargo build --release --bins --examples)
echo "ok: built on the packages (default features, jemalloc from the package) in $((SECONDS - build_start)) s"
# The build read nothing of the repository: every path it printed is under $tmp.
outputs=$(ls "$CARGO_TARGET_DIR"/release/build/memkind-fixed-sys-*/output)
if grep -l -F "$top" $outputs; then
    fail "memkind-fixed-sys's build used files of the repository"
fi
grep -q "rustc-link-search=native=$CARGO_TARGET_DIR/release/build/memkind-fixed-sys-.*/out/jemalloc/lib" \
    $outputs || fail "jemalloc was not built from the package into OUT_DIR"
jemalloc_dir=$(sed -n 's/^cargo:rustc-link-search=native=\(.*\)\/lib$/\1/p' $outputs | head -n1)

(cd "$app" && run app-run cargo run --release -q)
grep '^README example' "$tmp/app-run.log"
for i in $(seq 1 "$snippets"); do
    (cd "$app" && run "snippet-$i" cargo run --release -q --example "rust_md_$i")
done
echo "ok: docs/rust.md's $snippets snippets compile (edition 2024) and run"

# 3. Beside tikv-jemallocator (its own jemalloc, prefix _rjem_, links = "jemalloc").
tikv="$tmp/app-tikv"
new_project "$tikv" 'tikv-jemallocator = "0.7"'
cat >"$tikv/src/main.rs" <<'EOF'
use allocator_api2::vec::Vec;
use memkind_fixed::FixedKind;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> Result<(), memkind_fixed::Error> {
    let kind = FixedKind::map(16 << 20)?;
    let mut v: Vec<u32, &FixedKind> = Vec::new_in(&kind);
    v.extend(0..100_000);
    assert!(kind.contains(v.as_ptr()));
    let global = std::vec![7u8; 4096]; // from tikv-jemallocator
    assert!(!kind.contains(global.as_ptr()));
    assert!(unsafe { tikv_jemallocator::usable_size(global.as_ptr()) } >= 4096);
    println!("with tikv-jemallocator: kind {} allocated bytes", kind.stats()?.allocated);
    Ok(())
}
EOF
build_start=$SECONDS
(cd "$tikv" && run tikv-build cargo build --release)
(cd "$tikv" && run tikv-run cargo run --release -q)
builds=$(ls -d "$CARGO_TARGET_DIR"/release/build/memkind-fixed-sys-*/out/jemalloc | wc -l)
echo "ok: a project with tikv-jemallocator builds and runs ($((SECONDS - build_start)) s, our jemalloc built $builds time(s) in all): $(cat "$tmp/tikv-run.log")"

# 4. docs.rs: DOCS_RS set, no C compiler.
(cd "$app" && DOCS_RS=1 CC=false AR=false CARGO_TARGET_DIR="$tmp/doc-target" \
    run doc cargo doc -q)
[ -f "$tmp/doc-target/doc/memkind_fixed/index.html" ] || fail "no docs for memkind-fixed"
[ -f "$tmp/doc-target/doc/memkind_fixed_sys/index.html" ] || fail "no docs for memkind-fixed-sys"
echo "ok: DOCS_RS=1 CC=false cargo doc"

# 5. The registry's checks. Its verification builds both packages once more; it links
# the jemalloc that step 2 built from the same package, not to build it a third time.
MEMKIND_FIXED_JEMALLOC_DIR="$jemalloc_dir" \
    run publish "$top/bindings/rust/package.sh" publish --dry-run --allow-dirty
for crate in memkind-fixed-sys memkind-fixed; do
    grep -q "Uploading $crate v$version" "$tmp/publish.log" || fail "publish --dry-run: no $crate"
done
echo "ok: cargo publish --dry-run for memkind-fixed-sys and memkind-fixed"
echo "rust packaging: all checks passed in $((SECONDS - start)) s"
