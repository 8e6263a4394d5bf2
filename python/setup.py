"""Build memkind_fixed._native with cffi (see ../bindings/cffi/build_ffi.py).

The metadata is in pyproject.toml. The cffi builder finds the core relative to
itself (../core/src, ../core/include, ../.deps/jemalloc), so build from a checkout
on which tools/setup.sh ran; pip builds in place, so the checkout is what it sees.
"""

import os

from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
builder = os.path.join(os.path.dirname(here), "bindings", "cffi", "build_ffi.py")
if not os.path.exists(builder):
    raise SystemExit(f"{builder} not found: build memkind_fixed from a memkind-fixed checkout")

setup(cffi_modules=[os.path.relpath(builder, os.getcwd()) + ":ffi"])
