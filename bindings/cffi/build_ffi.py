#!/usr/bin/env python3
"""The cffi builder of memkind_fixed._native (out-of-line API mode).

Two ways to use it, one definition of the module:

- setuptools: python/setup.py names `ffi` below in cffi_modules. The extension is
  compiled from the core's C sources (../../core/src) and linked with the private
  jemalloc that setup.py names in MKF_JEMALLOC_DIR: the one tools/setup.sh built
  (.deps/jemalloc) in a checkout, or the one setup.py builds from the release
  tarball that the sdist carries. The same relative layout holds inside the sdist
  (python/setup.py copies this folder, core/ and the jemalloc inputs into native/).

- command line (Bazel's genrule, and tests/python/conftest.py for a checkout):

      build_ffi.py --output DIR/_native.so [--archive libmemkind_fixed.a]

  emits the C code and runs the C compiler directly. With --archive the core comes
  from that archive (//core:static_archive: the core and jemalloc, PIC), otherwise
  from the sources as above.

Either way the core is linked statically with hidden visibility and
-Wl,--exclude-libs,ALL, so the module exports nothing but PyInit__native and needs
no shared memkind, no jemalloc and no environment variables. numpy's headers are
needed to build (the NEP 49 handler in mkf_python.c), not to import.
"""

import argparse
import glob
import os
import platform
import shlex
import subprocess
import sys
import sysconfig
import tempfile

import cffi

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))

MODULE = "memkind_fixed._native"

# The core's own flags (core/BUILD); the generated code compiles with them too.
CFLAGS = ["-std=gnu11", "-D_GNU_SOURCE", "-fvisibility=hidden", "-O2", "-g"]
# TLS descriptors (gcc, x86-64): the core's thread-local cache table costs an
# indirect call that clobbers one register instead of a __tls_get_addr call, and the
# allocation fast path needs no stack frame (docs/design.md).
if platform.machine() == "x86_64" and sys.platform.startswith("linux"):
    CFLAGS += ["-mtls-dialect=gnu2", "-fomit-frame-pointer"]
LDFLAGS = ["-Wl,--exclude-libs,ALL",
           "-Wl,--version-script=" + os.path.join(HERE, "exports.map")]
LIBS = ["numa", "pthread", "dl", "m"]

# Declarations of mkf_python.c that the Python side calls through cffi.
EXTRA_CDEF = """
int mkf_python_init(void);
int mkf_populate(void *addr, size_t size);
"""


def _numpy_include():
    try:
        import numpy
    except ImportError as e:  # pragma: no cover - setup installs numpy
        raise SystemExit("building memkind_fixed needs numpy's headers: "
                         "pip install numpy (see tools/requirements.txt)") from e
    return numpy.get_include()


def _paths(top):
    return {
        "cdef": os.path.join(top, "bindings", "cffi", "memkind_fixed.cdef"),
        "glue": os.path.join(top, "bindings", "cffi", "mkf_python.c"),
        "include": os.path.join(top, "core", "include"),
        "core_src": os.path.join(top, "core", "src"),
        "jemalloc": os.path.join(top, ".deps", "jemalloc"),
    }


def make_ffi(top=TOP, archive=None, relative_sources=False, jemalloc=None):
    """The FFI of memkind_fixed._native.

    `top` is the checkout (or runfiles, or sdist native/) root holding bindings/cffi
    and core/include. Without `archive` the core's sources and a jemalloc build
    (`jemalloc`, default top/.deps/jemalloc) are compiled in; with it, the archive is
    linked whole instead. setuptools wants `relative_sources` (paths relative to the
    current directory, which is setup.py's) and builds the jemalloc it names before
    compiling, so that one need not exist yet.
    """
    p = _paths(top)
    if jemalloc is not None:
        p["jemalloc"] = jemalloc
    ffi = cffi.FFI()
    with open(p["cdef"]) as f:
        ffi.cdef(f.read())
    ffi.cdef(EXTRA_CDEF)

    include_dirs = [p["include"], _numpy_include()]
    sources = [p["glue"]]
    extra_objects = []
    if archive is None:
        je_archive = os.path.join(p["jemalloc"], "lib", "libmkf_jemalloc.a")
        if not relative_sources and not os.path.exists(je_archive):
            raise SystemExit(f"{je_archive} is missing: run tools/setup.sh first")
        sources += sorted(glob.glob(os.path.join(p["core_src"], "*.c")))
        sources += sorted(glob.glob(os.path.join(p["core_src"], "shared", "*.c")))
        include_dirs += [p["core_src"], os.path.join(p["jemalloc"], "include")]
        extra_objects = [je_archive]
        link_args = LDFLAGS
    else:
        link_args = LDFLAGS + ["-Wl,--whole-archive", os.path.abspath(archive),
                               "-Wl,--no-whole-archive"]

    if relative_sources:
        sources = [os.path.relpath(s) for s in sources]
    ffi.set_source(
        MODULE,
        '#include "memkind_fixed.h"\n' + EXTRA_CDEF,
        sources=sources,
        include_dirs=include_dirs,
        extra_objects=extra_objects,
        extra_compile_args=CFLAGS,
        extra_link_args=link_args,
        libraries=LIBS,
        # mkf_python.c uses the full C API (static types, the buffer protocol).
        py_limited_api=False,
    )
    return ffi


def _compile(ffi, output, verbose, link_args=()):
    """Emit the C code and compile everything with one compiler call."""
    kw = ffi._assigned_source[3]  # the set_source keywords
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "gcc")[:1]
    with tempfile.TemporaryDirectory() as tmp:
        c_file = os.path.join(tmp, "_native.c")
        ffi.emit_c_code(c_file)
        cmd = cc + ["-shared", "-fPIC", *kw["extra_compile_args"],
                    "-I" + sysconfig.get_paths()["include"]]
        cmd += ["-I" + d for d in kw["include_dirs"]]
        cmd += [c_file, *kw["sources"], *kw["extra_objects"]]
        cmd += ["-o", output, *kw["extra_link_args"], *link_args]
        cmd += ["-l" + lib for lib in kw["libraries"]]
        if verbose:
            print(" ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
        subprocess.run(cmd, check=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description="build memkind_fixed._native")
    parser.add_argument("--output", required=True, help="path of the module (.so)")
    parser.add_argument("--archive", help="link this core archive instead of the sources")
    parser.add_argument("--top", default=TOP, help="root holding bindings/ and core/")
    parser.add_argument("--link-arg", action="append", default=[],
                        help="extra linker argument (for example -fsanitize=address "
                             "when the archive is instrumented)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    out_dir = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(out_dir, exist_ok=True)
    _compile(make_ffi(args.top, args.archive), args.output, args.verbose, args.link_arg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
else:
    # setuptools' cffi_modules = ["<this file>:ffi"]; setup.py sets MKF_JEMALLOC_DIR.
    ffi = make_ffi(relative_sources=True, jemalloc=os.environ.get("MKF_JEMALLOC_DIR"))
