"""Make `import memkind_fixed` test the code of this checkout.

- Under Bazel (TEST_SRCDIR is set) the py_test's PYTHONPATH already holds the module
  that //python:native built.
- With MEMKIND_FIXED_TEST_INSTALLED=1 the installed package is tested
  (after `pip install ./python`).
- Otherwise (`python3 -m pytest tests/python` in a checkout) the module is built from
  this checkout into python/build/pytest/ with bindings/cffi/build_ffi.py, again
  whenever a source is newer than the module, and put first on sys.path.
"""

import glob
import os
import shutil
import subprocess
import sys

import pytest

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def _build_checkout_module():
    out_root = os.path.join(TOP, "python", "build", "pytest")
    package = os.path.join(out_root, "memkind_fixed")
    native = os.path.join(package, "_native.so")
    inputs = (glob.glob(os.path.join(TOP, "core", "src", "*.[ch]"))
              + glob.glob(os.path.join(TOP, "core", "src", "shared", "*.[ch]"))
              + glob.glob(os.path.join(TOP, "core", "include", "*.h"))
              + glob.glob(os.path.join(TOP, "bindings", "cffi", "*")))
    newest = max(os.path.getmtime(p) for p in inputs)
    if not os.path.exists(native) or os.path.getmtime(native) < newest:
        os.makedirs(package, exist_ok=True)
        subprocess.run([sys.executable, os.path.join(TOP, "bindings", "cffi", "build_ffi.py"),
                        "--output", native], check=True, stdout=subprocess.DEVNULL)
    for source in glob.glob(os.path.join(TOP, "python", "memkind_fixed", "*")):
        if os.path.isfile(source):
            shutil.copy2(source, package)
    sys.path.insert(0, out_root)


if "TEST_SRCDIR" not in os.environ and os.environ.get("MEMKIND_FIXED_TEST_INSTALLED") != "1":
    _build_checkout_module()


def _repo_file(*parts):
    """A file of the repository: under Bazel a data dependency in the runfiles tree,
    else the checkout's."""
    for root in (os.environ.get("TEST_SRCDIR", ""), TOP):
        for candidate in (os.path.join(root, "memkind_fixed", *parts),
                          os.path.join(root, *parts)):
            if os.path.isfile(candidate):
                return candidate
    raise FileNotFoundError(os.path.join(*parts))


@pytest.fixture
def repo_file():
    """_repo_file: the path of a file of the repository, for tests that read docs/
    or run bench/ (their BUILD data)."""
    return _repo_file


@pytest.fixture
def kind():
    """A 4 MiB kind, closed after the test."""
    import memkind_fixed as mkf
    with mkf.FixedKind(size=4 << 20) as k:
        yield k


def pytest_report_header(config):
    import memkind_fixed
    return f"memkind_fixed {memkind_fixed.__version__} from {memkind_fixed.__file__}"
