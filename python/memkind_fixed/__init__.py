"""memkind_fixed: heaps inside memory regions you choose, for Python and numpy data.

    import memkind_fixed as mkf

    with mkf.FixedKind(size=64 << 20) as kind:
        block = kind.malloc(4096)            # an Allocation: memoryview(block), len(block)
        table = kind.zeros((1000, 3))        # a numpy array whose data is in the region
        with mkf.numpy_allocator(kind):
            x = numpy.ones(10_000)           # numpy allocates x's data in the region

A binding of memkind-fixed's C API (memkind's fixed kind on a private jemalloc),
linked into the extension module: nothing else to install or preload. numpy is
optional. See docs/python.md for the memory-safety rules.
"""

import sys as _sys

from ._errors import MemkindError, OutOfMemoryError, error_message
from ._kind import POLICIES, Allocation, DestroyStats, FixedKind, KindStats, destroy_stats
from ._native import ffi, lib
from ._shared import SHM_PREFIX, SharedArray, SharedKind, SharedStats, shared_cleanup
from ._numpy import NumpyHandler, handler_name, numpy_allocator

__all__ = [
    "Allocation",
    "DestroyStats",
    "FixedKind",
    "KindStats",
    "MemkindError",
    "NumpyHandler",
    "OutOfMemoryError",
    "POLICIES",
    "SHM_PREFIX",
    "SharedArray",
    "SharedKind",
    "SharedStats",
    "api_version",
    "destroy_stats",
    "error_message",
    "ffi",
    "handler_name",
    "lib",
    "numpy_allocator",
    "shared_cleanup",
]

__version__ = "{}.{}.{}".format(
    lib.MEMKIND_FIXED_VERSION_MAJOR,
    lib.MEMKIND_FIXED_VERSION_MINOR,
    lib.MEMKIND_FIXED_VERSION_PATCH,
)


if "distributed" in _sys.modules:  # a Dask process: SharedArrays go as handles (dask.py)
    try:
        from . import dask as _dask  # noqa: F401
    except ImportError:  # distributed without numpy, or a broken install: bytes then
        pass


def api_version() -> int:
    """memkind API version implemented, as major * 1000000 + minor * 1000 + patch."""
    return int(lib.memkind_get_version())
