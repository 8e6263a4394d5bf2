# bench/setup_competitors.sh - the benchmark's competitors (bench/, docs/performance.md):
# other heaps that run in a caller's region, installed and built here, pinned, with
# nothing of theirs in the repository; and the plot's Python packages. Sourced by
# `tools/setup.sh --bench` (bench/run_all.sh runs that) with $top, $deps, log and
# as_root set; the plain set-up leaves all of this out: no test needs it. The C
# benchmark loads each competitor with dlopen() from what this step leaves, and
# shows "not installed" in a competitor's column when it is missing, so a failure
# here is reported and does not stop the set-up.
#
#   memkind 1.14's fixed kind   Debian's libmemkind-dev          /usr/lib/.../libmemkind.so.0
#   tbbmalloc memory pool       Debian's libtbb-dev, and our shim bench/tbb_pool.cc
#                                                                .deps/bench/libmkfbench_tbbpool.so
#   mimalloc 2.0.9 arena        Debian's libmimalloc-dev         /usr/lib/.../libmimalloc.so.2
#   mimalloc 2.x / 3.x arenas   the C source that the crate libmimalloc-sys carries (its
#                               version pinned in bench/rust/Cargo.lock), compiled here
#                               without malloc override: .deps/bench/mimalloc-<v>/libmimalloc.so
#   talc, rlsf (Rust)           crates pinned in bench/rust/Cargo.lock (cargo fetch --locked)
# and the shared-heap benchmark's (bench/shared/, issue 25):
#   Boost.Interprocess          Debian's libboost-dev (header-only), and our shim
#                               bench/shared/boost_ipc.cc  .deps/bench/libmkfbench_boostipc.so
#   rts-alloc                   the crate pinned in bench/rust_shared/Cargo.lock, behind the
#                               C interface of that crate     .deps/bench/libmkfbench_rts.so
#   matplotlib (bench/plot.py)  bench/requirements.txt, in the venv .deps/bench/venv
#
# Debian's libmemkind-dev also installs Intel's memkind manual pages (memkind_fixed(3),
# memkind_malloc(3), ... in /usr/share/man): that is why it is here and not in the
# plain set-up. Our pages win where our prefix comes first in MANPATH
# (docs/install.md).
bench_debian=(
    libmemkind-dev=1.14.0-2
    libtbb-dev=2021.8.0-2+deb12u1
    libmimalloc-dev=2.0.9+ds-2
    libboost-dev=1.74.0.3
)
bench_out="$deps/bench"
mkdir -p "$bench_out"

bench_missing=()
for p in "${bench_debian[@]}"; do
    [ "$(dpkg-query -W -f='${Version}' "${p%%=*}" 2>/dev/null)" = "${p#*=}" ] || bench_missing+=("$p")
done
if [ "${#bench_missing[@]}" -gt 0 ]; then
    log "bench: installing ${bench_missing[*]}"
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${bench_missing[@]}" >/dev/null 2>&1; then
        as_root apt-get update -qq || true
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${bench_missing[@]}" >/dev/null ||
            log "bench: WARNING: could not install ${bench_missing[*]}; their columns will say so"
    fi
fi

# Our C interfaces over the competitors whose API is C++ only, each built when its
# source changed and the competitor's header is there:
#     bench_cxx_shim WHAT SOURCE LIBRARY HEADER [g++ options and libraries...]
bench_cxx_shim() {
    local what=$1 src=$2 so=$3 header=$4 tag stamp
    shift 4
    tag=$(basename "$so" .so)
    stamp="$bench_out/.$tag-$(sha256sum "$src" | cut -c1-16)"
    if [ -f "$stamp" ] || [ ! -f "$header" ]; then
        return 0
    fi
    log "bench: building $what"
    rm -f "$bench_out/.$tag-"*
    if g++ -std=c++17 -O2 -fPIC -shared -o "$so" "$src" "$@"; then
        touch "$stamp"
    else
        log "bench: WARNING: $what did not build"
    fi
}
bench_cxx_shim "the tbbmalloc pool shim" "$top/bench/tbb_pool.cc" \
    "$bench_out/libmkfbench_tbbpool.so" /usr/include/oneapi/tbb/scalable_allocator.h \
    -fno-exceptions -fno-rtti -ltbbmalloc
# Boost.Interprocess's managed_shared_memory (header-only).
bench_cxx_shim "the Boost.Interprocess shim" "$top/bench/shared/boost_ipc.cc" \
    "$bench_out/libmkfbench_boostipc.so" /usr/include/boost/interprocess/managed_shared_memory.hpp \
    -fvisibility=hidden -lpthread -lrt
unset -f bench_cxx_shim

# talc, rlsf and the mimalloc source, as bench/rust/Cargo.lock pins them.
bench_cargo=$(command -v cargo || echo "${CARGO_HOME:-$HOME/.cargo}/bin/cargo")
if [ ! -x "$bench_cargo" ]; then
    log "bench: cargo not found: no Rust benchmark and no mimalloc built from source"
else
    bench_lock="$top/bench/rust/Cargo.lock"
    bench_rust_stamp="$deps/.bench-rust-$(cat "$bench_lock" "$top/bench/rust/Cargo.toml" | sha256sum | cut -c1-16)"
    if [ ! -f "$bench_rust_stamp" ]; then
        log "bench: fetching the pinned crates of bench/rust (cargo fetch --locked)"
        (cd "$top/bench/rust" && "$bench_cargo" fetch --locked -q) && touch "$bench_rust_stamp"
    fi
    # rts-alloc behind a C interface (bench/rust_shared, a cdylib): fetched and built
    # when its lock file or source changed.
    bench_rts_dir="$top/bench/rust_shared"
    bench_rts_stamp="$bench_out/.rts-$(cat "$bench_rts_dir/Cargo.lock" "$bench_rts_dir/Cargo.toml" \
        "$bench_rts_dir/src/lib.rs" | sha256sum | cut -c1-16)"
    if [ ! -f "$bench_rts_stamp" ]; then
        log "bench: building rts-alloc's C interface (bench/rust_shared, cargo build --locked)"
        rm -f "$bench_out"/.rts-*
        if (cd "$bench_rts_dir" && "$bench_cargo" fetch --locked -q &&
                "$bench_cargo" build --release --locked --offline -q) &&
                cp "$bench_rts_dir/target/release/libmkfbench_rts.so" "$bench_out/"; then
            touch "$bench_rts_stamp"
        else
            log "bench: WARNING: bench/rust_shared did not build; no rts-alloc column"
        fi
    fi
    # Where cargo unpacked libmimalloc-sys: its manifest's folder.
    bench_mi_src=$(cd "$top/bench/rust" && "$bench_cargo" metadata --locked --offline -q \
        --format-version 1 --features mimalloc-c-source 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "libmimalloc-sys":
        print(p["version"], p["manifest_path"].rsplit("/", 1)[0])
' || true)
    if [ -z "$bench_mi_src" ]; then
        log "bench: WARNING: libmimalloc-sys is not in the cargo cache; no mimalloc from source"
    else
        bench_mi_crate=${bench_mi_src%% *}
        bench_mi_dir=${bench_mi_src#* }
        # The crate carries mimalloc 2.x (c_src/mimalloc/v2) and 3.x (v3).
        for bench_mi_tree in "$bench_mi_dir"/c_src/mimalloc/v*; do
            [ -f "$bench_mi_tree/src/static.c" ] || continue
            # MI_MALLOC_VERSION is major * 10000 + minor * 100 + patch.
            bench_mi_v=$(awk '/#define MI_MALLOC_VERSION/ {v = $3; print int(v / 10000) "." int(v / 100) % 100 "." v % 100; exit}' \
                "$bench_mi_tree/include/mimalloc.h")
            bench_mi_out="$bench_out/mimalloc-$bench_mi_v"
            bench_mi_stamp="$bench_mi_out/.built-crate-$bench_mi_crate"
            [ -f "$bench_mi_stamp" ] && continue
            log "bench: building mimalloc $bench_mi_v (from libmimalloc-sys $bench_mi_crate), no malloc override"
            rm -rf "$bench_mi_out" && mkdir -p "$bench_mi_out"
            # The flags of mimalloc's own CMake build of its shared library in release
            # mode, less MI_MALLOC_OVERRIDE: only the mi_* API is exported.
            if cc -std=gnu11 -O3 -DNDEBUG -fPIC -shared -fvisibility=hidden -ftls-model=initial-exec \
                    -fno-builtin-malloc -DMI_SHARED_LIB -DMI_SHARED_LIB_EXPORT \
                    -I"$bench_mi_tree/include" -o "$bench_mi_out/libmimalloc.so" \
                    "$bench_mi_tree/src/static.c" -lpthread -latomic 2>"$bench_mi_out/build.log"; then
                cp "$bench_mi_dir/LICENSE.txt" "$bench_mi_out/" 2>/dev/null || true
                touch "$bench_mi_stamp"
            else
                log "bench: WARNING: mimalloc $bench_mi_v did not build (see $bench_mi_out/build.log)"
            fi
        done
    fi
fi
# The plot's packages: a venv of its own (nothing else needs them).
bench_venv="$bench_out/venv"
bench_reqs="$top/bench/requirements.txt"
bench_venv_stamp="$bench_venv/.reqs-$(sha256sum "$bench_reqs" | cut -c1-16)"
if [ ! -f "$bench_venv_stamp" ]; then
    log "bench: the plot's Python packages into $bench_venv"
    if { [ -x "$bench_venv/bin/python" ] || python3 -m venv "$bench_venv"; } &&
        "$bench_venv/bin/python" -m pip install -q --disable-pip-version-check -r "$bench_reqs"; then
        touch "$bench_venv_stamp"
    else
        log "bench: WARNING: no venv for bench/plot.py; bench/run_all.sh will skip the plot"
    fi
fi
unset bench_venv bench_reqs bench_venv_stamp
unset bench_debian bench_out bench_missing bench_cargo bench_rts_dir bench_rts_stamp \
    bench_lock bench_rust_stamp bench_mi_src bench_mi_crate bench_mi_dir bench_mi_tree bench_mi_v \
    bench_mi_out bench_mi_stamp p
