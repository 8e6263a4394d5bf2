#!/usr/bin/env bash
# Set up a Debian 12 machine to build and test memkind-fixed.
#
# Idempotent: each step checks whether its result is already there, so a second run
# takes seconds. Run it from anywhere, as root or as a user who may use sudo (the
# steps that need root run through sudo then; nothing else does):
#
#     tools/setup.sh            # what the build, the tests and the packages need
#     tools/setup.sh --bench    # and the benchmark's competitors (bench/setup_competitors.sh)
#
# What it does:
#   1. installs the Debian packages the build and tests need;
#   2. fetches Debian's jemalloc 5.3.0 source package, checks it against the checksums
#      in its .dsc, keeps the tarball in .deps/dist/ and builds a private static
#      jemalloc into .deps/jemalloc with tools/build_jemalloc.sh (symbol prefix
#      mkf_je_, nothing exported, no initial-exec TLS); that script keeps the build
#      in a per-machine cache (~/.cache/memkind-fixed/jemalloc), so another checkout,
#      the wheel, the sdist and the crate reuse it;
#   3. installs the pinned Python packages (tools/requirements.txt says where, and why);
#   4. runs the per-language steps in tools/setup.d/ (pinned crates, Java, ...);
#   5. with --bench only: the benchmark's competitors (memkind 1.14, tbbmalloc,
#      mimalloc builds, the Rust heaps' crates) and the plot's Python packages in a
#      venv. tools/test.sh needs none of them (//bench:bench_smoke_test shows an
#      absent competitor as absent); bench/run_all.sh runs this step itself.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps="$top/.deps"
mkdir -p "$deps"

bench=0
for arg in "$@"; do
    case "$arg" in
        --bench) bench=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: tools/setup.sh [--bench]" >&2; exit 2 ;;
    esac
done

log() { printf '[setup] %s\n' "$*"; }
# Commands that change the system (apt-get): as they are for root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "setup.sh: '$*' needs root: run tools/setup.sh as root, or install sudo" >&2
        return 1
    fi
}

# ---------------------------------------------------------------- 1. Debian packages
debian_packages=(
    bazel-bootstrap      # Bazel 4.2.3, WORKSPACE mode (see third_party/bazel_shims)
    build-essential pkg-config
    clang libclang-rt-14-dev  # sanitizers, libFuzzer
    libclang-dev bindgen      # Rust bindings generator
    swig                      # bindings for further runtimes
    libnuma-dev numactl       # NUMA-placed regions
    dpkg-dev bzip2            # apt-get source, the jemalloc tarball
    valgrind
)
missing=()
for p in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

src_list=/etc/apt/sources.list.d/memkind-fixed-src.sources
need_update=0
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    log "adding a deb-src entry for bookworm main"
    as_root tee "$src_list" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    need_update=1
fi
if [ "${#missing[@]}" -gt 0 ] || [ "$need_update" -eq 1 ]; then
    log "apt-get update"
    as_root apt-get update -qq
fi
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---------------------------------------------------------------- 2. private jemalloc
je_version=5.3.0
je_prefix=mkf_je_
je_out="$deps/jemalloc"
# Our own addition to the archive (not a patch of jemalloc): a fast path for explicit
# thread caches, compiled inside the configured jemalloc tree. Its hash is part of the
# stamp, with the build script's, so a change to either rebuilds jemalloc.
je_fast="$top/third_party/jemalloc/mkf_tcache_fast.c"
je_fast_hash=$(cat "$je_fast" "$top/tools/build_jemalloc.sh" | sha256sum | cut -c1-16)
je_stamp="$je_out/.built-$je_version-$je_prefix-$je_fast_hash"
# The checked release tarball stays in .deps/dist/: the Python sdist and the Rust
# crate carry it (with tools/build_jemalloc.sh) and build the same jemalloc from it.
je_dist="$deps/dist"
je_tarball="$je_dist/jemalloc_$je_version.orig.tar.bz2"
if [ ! -f "$je_tarball" ]; then
    je_src="$deps/jemalloc-src"
    rm -rf "$je_src" && mkdir -p "$je_src" "$je_dist"
    (
        cd "$je_src"
        log "fetching Debian's jemalloc $je_version source package"
        if ! apt-get source --download-only "jemalloc=$je_version-1" >/dev/null 2>&1; then
            as_root apt-get update -qq
            apt-get source --download-only "jemalloc=$je_version-1" >/dev/null
        fi
        dsc=$(ls jemalloc_*.dsc)
        tarball="jemalloc_$je_version.orig.tar.bz2"
        # The .dsc lists "sha256 size name" lines under Checksums-Sha256.
        want=$(awk '/^Checksums-Sha256:/{on=1; next} /^[^ ]/{on=0} on && $3 == f {print $1}' f="$tarball" "$dsc")
        have=$(sha256sum "$tarball" | cut -d' ' -f1)
        [ -n "$want" ] && [ "$want" = "$have" ] || { echo "checksum mismatch for $tarball: $have != $want" >&2; exit 1; }
        log "checksum ok ($have)"
        printf '%s  %s\n' "$have" "$tarball" >"$je_dist/SHA256SUMS"
        mv "$tarball" "$je_tarball"
    )
    rm -rf "$je_src"
fi
if [ ! -f "$je_stamp" ]; then
    log "jemalloc: from the per-machine cache, or built (a few minutes, once per machine)"
    rm -rf "$je_out"
    "$top/tools/build_jemalloc.sh" "$je_tarball" "$je_fast" "$je_out"
    touch "$je_stamp"
    log "jemalloc ready in .deps/jemalloc"
fi

# ---------------------------------------------------------------- 3. Python packages
py_reqs="$top/tools/requirements.txt"
py_stamp="$deps/.python-$(sha256sum "$py_reqs" | cut -c1-16)"
# Debian's own python3 refuses pip installs (PEP 668, "externally managed"); a venv
# is the way there, and it must come first on PATH for Bazel's tests to run it.
py_managed=$(python3 -c 'import os, sys, sysconfig
print(int(sys.prefix == sys.base_prefix and
          os.path.exists(os.path.join(sysconfig.get_paths()["stdlib"], "EXTERNALLY-MANAGED"))))')
if [ "$py_managed" = 1 ]; then
    echo "setup.sh: $(command -v python3) is the system's externally managed Python: make a venv" >&2
    echo "  and run the set-up, the build and the tests with it first on PATH, e.g." >&2
    echo "      python3 -m venv ~/.venvs/memkind-fixed && . ~/.venvs/memkind-fixed/bin/activate" >&2
    echo "  (tools/requirements.txt says why the tests' packages go to that python3)" >&2
    exit 1
fi
if [ ! -f "$py_stamp" ]; then
    log "installing pinned Python packages"
    python3 -m pip install -q --disable-pip-version-check -r "$py_reqs"
    touch "$py_stamp"
fi

# ---------------------------------------------------------------- 4. per-language steps
# Each binding adds what it needs in tools/setup.d/<language>.sh, run here in name
# order with $top, $deps, log and as_root available.
for step in "$top"/tools/setup.d/*.sh; do
    [ -e "$step" ] || continue
    # shellcheck source=/dev/null
    . "$step"
done

# ---------------------------------------------------------------- 5. --bench
if [ "$bench" -eq 1 ]; then
    # shellcheck source=/dev/null
    . "$top/bench/setup_competitors.sh"
fi

log "done"
