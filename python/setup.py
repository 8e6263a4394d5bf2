"""Build memkind_fixed._native with cffi (bindings/cffi/build_ffi.py).

The metadata is in pyproject.toml. This file finds the C sources, provides the
private jemalloc, and makes the sdist self-contained. The same build runs in two
places:

- a checkout (`pip install ./python`, `python -m build python/`): the sources are
  around this folder (../core, ../bindings/cffi, ...). jemalloc is the one that
  tools/setup.sh built in ../.deps/jemalloc, or, when there is none, one built here
  from the release tarball that setup.sh keeps in ../.deps/dist.
- an sdist (what `pip install memkind_fixed-*.tar.gz` and `python -m build` build
  the wheel from): the sdist command below copies those sources into native/ with
  the same relative layout, with jemalloc's checked release tarball, its build
  script and our fast-path file; jemalloc is built from them into build/jemalloc.

Either way the core and jemalloc are linked into the module statically, and the
module needs nothing at run time but libc and libnuma.

pyproject.toml's license-files are LICENSE (ours) and jemalloc-COPYING (jemalloc's,
linked into the module). In a checkout they are copied here from ../LICENSE and
from jemalloc's build or tarball (both git-ignored); the sdist carries them.
"""

import hashlib
import os
import shutil
import subprocess
import tarfile

from setuptools import setup
from setuptools.command.build_ext import build_ext as _build_ext
from setuptools.command.sdist import sdist as _sdist

HERE = os.path.dirname(os.path.abspath(__file__))
JEMALLOC_TARBALL = "jemalloc_5.3.0.orig.tar.bz2"

# What the sdist's native/ holds, as paths relative to the checkout's root.
NATIVE_FILES = [
    "core/include/memkind_fixed.h",
    "bindings/cffi/build_ffi.py",
    "bindings/cffi/exports.map",
    "bindings/cffi/memkind_fixed.cdef",
    "bindings/cffi/mkf_python.c",
    "tools/build_jemalloc.sh",
    "third_party/jemalloc/mkf_tcache_fast.c",
]
NATIVE_DIRS = {"core/src": (".c", ".h"), "core/src/shared": (".c", ".h")}


def _layout():
    """(root of the C sources, folder of the jemalloc tarball, prebuilt jemalloc or None)."""
    native = os.path.join(HERE, "native")
    if os.path.exists(os.path.join(native, "bindings", "cffi", "build_ffi.py")):
        return native, os.path.join(native, "dist"), None
    top = os.path.dirname(HERE)
    if os.path.exists(os.path.join(top, "bindings", "cffi", "build_ffi.py")):
        deps = os.path.join(top, ".deps")
        prebuilt = os.path.join(deps, "jemalloc")
        if not os.path.exists(os.path.join(prebuilt, "lib", "libmkf_jemalloc.a")):
            prebuilt = None
        return top, os.path.join(deps, "dist"), prebuilt
    raise SystemExit("memkind_fixed: no C sources found (neither native/ of an sdist "
                     "nor a memkind-fixed checkout around python/)")


TOP, DIST, PREBUILT = _layout()
JEMALLOC = PREBUILT or os.path.join(HERE, "build", "jemalloc")


def _tarball():
    path = os.path.join(DIST, JEMALLOC_TARBALL)
    if not os.path.exists(path):
        # A git+...#subdirectory=python install lands here: a clone has no tarball.
        raise SystemExit(f"{path} is missing: install the sdist (memkind_fixed-*.tar.gz, "
                         "which carries it), or run tools/setup.sh in the checkout first "
                         "(it fetches and checks jemalloc's release tarball)")
    return path


def _checked_tarball():
    """The tarball, after checking it against the SHA256SUMS that setup.sh wrote."""
    path = _tarball()
    with open(os.path.join(DIST, "SHA256SUMS")) as f:
        sums = {name: digest for digest, name in (line.split() for line in f if line.strip())}
    with open(path, "rb") as f:
        have = hashlib.sha256(f.read()).hexdigest()
    if sums.get(JEMALLOC_TARBALL) != have:
        raise SystemExit(f"{path}: sha256 {have} does not match {DIST}/SHA256SUMS")
    return path


def _stage_license_files():
    """Copy LICENSE and jemalloc's COPYING beside this file (checkout only)."""
    if TOP == os.path.join(HERE, "native"):
        return  # an sdist carries them
    shutil.copyfile(os.path.join(TOP, "LICENSE"), os.path.join(HERE, "LICENSE"))
    target = os.path.join(HERE, "jemalloc-COPYING")
    if PREBUILT:
        shutil.copyfile(os.path.join(PREBUILT, "COPYING"), target)
        return
    with tarfile.open(_tarball()) as tar:
        # jemalloc-5.3.0/COPYING: the one file of that name at the top of the tree
        member = next(m for m in tar.getmembers() if m.name.count("/") == 1
                      and m.name.endswith("/COPYING"))
        data = tar.extractfile(member).read()
    with open(target, "wb") as f:
        f.write(data)


def _build_jemalloc():
    """Build jemalloc into JEMALLOC unless it is there (a prebuilt one, or an
    earlier build from the same inputs)."""
    if PREBUILT:
        return
    tarball = _checked_tarball()
    script = os.path.join(TOP, "tools", "build_jemalloc.sh")
    fast = os.path.join(TOP, "third_party", "jemalloc", "mkf_tcache_fast.c")
    digest = hashlib.sha256()
    for path in (tarball, script, fast):
        with open(path, "rb") as f:
            digest.update(f.read())
    stamp = os.path.join(JEMALLOC, ".inputs-sha256")
    archive = os.path.join(JEMALLOC, "lib", "libmkf_jemalloc.a")
    if os.path.exists(archive) and os.path.exists(stamp):
        with open(stamp) as f:
            if f.read().strip() == digest.hexdigest():
                return
    print(f"memkind_fixed: building jemalloc from {JEMALLOC_TARBALL} into {JEMALLOC}")
    # build_jemalloc.sh's default flags, those of tools/setup.sh: its per-machine cache
    # (~/.cache/memkind-fixed/jemalloc) then serves the wheel, the sdist and the
    # checkout from one build. The debug info goes when the module is stripped.
    subprocess.run(["sh", script, tarball, fast, JEMALLOC], check=True)
    with open(stamp, "w") as f:
        f.write(digest.hexdigest() + "\n")


class build_ext(_build_ext):
    """Builds jemalloc first; links the module without RUNPATH or debug info."""

    def run(self):
        _build_jemalloc()
        super().run()

    def build_extensions(self):
        # An interpreter built with --enable-shared and an rpath (pyenv's) puts
        # -Wl,-rpath,<its lib dir> into LDSHARED; the module links no libpython, so
        # that RUNPATH would only point into the build machine.
        self.compiler.linker_so = [arg for arg in self.compiler.linker_so
                                   if not arg.startswith(("-Wl,-rpath", "-Wl,-R"))]
        for ext in self.extensions:
            ext.extra_link_args = [*ext.extra_link_args, "-Wl,--strip-debug"]
        super().build_extensions()


class sdist(_sdist):
    """Puts the C sources and jemalloc's inputs into native/ of the sdist."""

    def make_release_tree(self, base_dir, files):
        # cffi lists the extension's sources, which in a checkout lie outside this
        # folder (../core/src/...): native/ carries them instead.
        super().make_release_tree(base_dir, [f for f in files if not f.startswith("..")])
        native = os.path.join(base_dir, "native")
        copies = [(rel, rel) for rel in NATIVE_FILES]
        for folder, suffixes in NATIVE_DIRS.items():
            for name in sorted(os.listdir(os.path.join(TOP, folder))):
                if name.endswith(suffixes):
                    copies.append((f"{folder}/{name}", f"{folder}/{name}"))
        tarball = _checked_tarball()
        copies += [(os.path.relpath(tarball, TOP), f"dist/{JEMALLOC_TARBALL}"),
                   (os.path.relpath(os.path.join(DIST, "SHA256SUMS"), TOP), "dist/SHA256SUMS")]
        for src, dst in copies:
            target = os.path.join(native, dst)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(os.path.join(TOP, src), target)


_stage_license_files()
# Read by build_ffi.py when cffi_modules runs it (in this process).
os.environ["MKF_JEMALLOC_DIR"] = JEMALLOC
builder = os.path.join(TOP, "bindings", "cffi", "build_ffi.py")
setup(
    cffi_modules=[os.path.relpath(builder) + ":ffi"],  # relative to setup.py's folder
    cmdclass={"build_ext": build_ext, "sdist": sdist},
)
