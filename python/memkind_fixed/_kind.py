"""FixedKind, Allocation and the lifetime rules that keep them memory safe.

Ownership, in one picture::

    FixedKind ──► _Heap ◄── Allocation (its C part holds the reference)
                    ▲  ◄── numpy handler capsule (held by every array it allocated)
                    └─ owns the memkind kind, the mapped region or the user's buffer

A _Heap is destroyed (memkind_destroy_kind, then the region unmapped or the buffer
released) when the last of these references goes. FixedKind.close() drops only the
FixedKind's reference: new allocations are refused at once, and the kind itself goes
when its last allocation does. An Allocation frees its block when it is released or
collected, never while a buffer export (memoryview, numpy array) still points at it.
"""

from __future__ import annotations

import dataclasses
import errno as _errno
import mmap as _mmap
import operator
import os
import sys
import weakref
from typing import (TYPE_CHECKING, Any, NoReturn, Optional, Protocol, Sequence, SupportsIndex,
                    Tuple, TypeVar, Union, overload)

from . import _native
from ._errors import MemkindError, OutOfMemoryError, check, raise_for
from ._native import ffi, lib

if TYPE_CHECKING:  # numpy is optional at run time
    import numpy
    from numpy.typing import DTypeLike, NDArray

if lib.mkf_python_init() != 0:  # adds Block and the numpy handler functions
    raise ImportError("memkind_fixed._native could not initialise (see the error above)")

__all__ = ["Allocation", "DestroyStats", "FixedKind", "KindStats", "POLICIES", "destroy_stats"]

#: NUMA policies of FixedKind(size=..., policy=...).
POLICIES = {
    "default": lib.MEMKIND_REGION_POLICY_DEFAULT,
    "bind": lib.MEMKIND_REGION_POLICY_BIND,
    "preferred": lib.MEMKIND_REGION_POLICY_PREFERRED,
    "interleave": lib.MEMKIND_REGION_POLICY_INTERLEAVE,
}

_HUGE_PAGE = 2 << 20
_POINTER_SIZE = ffi.sizeof("void *")
_SIZE_MAX = (1 << (8 * ffi.sizeof("size_t"))) - 1
_INT_MAX = (1 << (8 * ffi.sizeof("int") - 1)) - 1

#: The shapes that FixedKind.empty/zeros/full take: one length or a tuple or list of them.
_ShapeLike = Union[SupportsIndex, Sequence[SupportsIndex]]
_ScalarT = TypeVar("_ScalarT", bound="numpy.generic")

if TYPE_CHECKING:
    class _ShapeConstructor(Protocol):
        """FixedKind.empty and zeros, (shape, dtype=float) -> a C-ordered array, typed
        as numpy's functions are: float64 without a dtype, the scalar type of a
        dtype given as a type or numpy.dtype, else Any."""

        @overload
        def __call__(self, shape: _ShapeLike) -> NDArray[numpy.float64]: ...
        @overload
        def __call__(self, shape: _ShapeLike,
                     dtype: type[_ScalarT] | numpy.dtype[_ScalarT]) -> NDArray[_ScalarT]: ...
        @overload
        def __call__(self, shape: _ShapeLike, dtype: DTypeLike) -> NDArray[Any]: ...


def _int_arg(value: Any, what: str) -> int:
    """`value` as an exact int: TypeError unless it is an integer, ValueError when
    negative. bool is refused: True as a size or node is a bug, not a 1."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an integer, not bool")
    try:
        n = int(operator.index(value))
    except TypeError:
        raise TypeError(f"{what} must be an integer, not {type(value).__name__}") from None
    if n < 0:
        raise ValueError(f"{what} must not be negative, got {n}")
    return n


def _size_arg(value: Any, what: str = "size") -> int:
    """A byte count: as _int_arg, and OutOfMemoryError beyond any buffer (sys.maxsize),
    so that no size reaches C as an OverflowError."""
    n = _int_arg(value, what)
    if n > sys.maxsize:
        raise OutOfMemoryError(_errno.ENOMEM, f"{what} {n} is larger than any buffer")
    return n


def _address(ptr: Any) -> int:
    return int(ffi.cast("uintptr_t", ptr))


class _Heap:
    """One memkind kind and its region. Private: see the module docstring."""

    __slots__ = ("kind", "kind_address", "start", "size", "zeroed", "__weakref__")

    def __init__(self, kind: Any, start: int, size: int, zeroed: bool) -> None:
        self.kind = kind
        self.kind_address = _address(kind)
        self.start = start
        self.size = size
        self.zeroed = zeroed


def _destroy(kind: Any, region: Optional[Tuple[Any, int, int]], buffer: Any) -> None:
    # Runs once, when the _Heap is collected: no block of the kind is alive then.
    lib.memkind_destroy_kind(kind)
    if region is not None:
        lib.memkind_region_unmap(*region)
    if buffer is not None:
        cdata, view = buffer
        ffi.release(cdata)
        view.release()


@dataclasses.dataclass(frozen=True)
class KindStats:
    """Region statistics of a kind (memkind_fixed_get_stats), in bytes."""

    capacity: int       #: usable bytes of the region (whole pages)
    used: int           #: bytes the heap holds (blocks, partly used pages, cached pages)
    free: int           #: capacity - used
    largest_free: int   #: the largest contiguous free extent
    peak_used: int      #: the highest `used` seen
    allocated: int      #: bytes in live blocks (thread caches count as allocated)
    failed_allocs: int  #: requests that failed with ENOMEM
    regions: int        #: number of regions (1 for a FixedKind)
    resident: int       #: bytes of the region in resident pages (mincore)


@dataclasses.dataclass(frozen=True)
class DestroyStats:
    """Blocks that destroyed kinds still held (memkind_get_destroy_stats): counts
    since the process started, over all kinds of the library. A FixedKind is
    destroyed only after its last Allocation and array are gone, so Python code
    that uses this package adds nothing here; C code in the same process that
    destroys kinds with live blocks does."""

    kinds: int   #: kinds destroyed while they held allocated blocks
    blocks: int  #: blocks those kinds held when destroyed, in all
    bytes: int   #: the size classes of those blocks, summed


def destroy_stats() -> DestroyStats:
    """Read the process-wide DestroyStats."""
    out = ffi.new("struct memkind_destroy_stats *")
    check(lib.memkind_get_destroy_stats(out), "reading destroy statistics")
    return DestroyStats(kinds=int(out.kinds), blocks=int(out.blocks), bytes=int(out.bytes))


class Allocation(_native.Block):
    """A block of memory in a FixedKind's region.

    Supports the buffer protocol (``memoryview(a)``, ``bytes(a)``, ``numpy.frombuffer``,
    ``readinto``...), ``len(a)`` and ``a.address``. Made by FixedKind.malloc, calloc,
    realloc and memalign only: ``Allocation(...)`` raises TypeError, so every block
    has exactly one Allocation.

    The block is freed by ``release()`` (or ``kind.free(a)``, or leaving a ``with``
    block), or when the object is collected. Releasing while a memoryview or numpy
    array of it is alive raises BufferError; after release every access raises
    ValueError and ``a.released`` is True. An allocation keeps its kind alive.
    """

    __slots__ = ()

    # Provided by the C base type (mkf_python.c), declared for type checkers.
    address: int
    size: int
    exports: int
    released: bool

    def __len__(self) -> int:
        return self.size

    def __enter__(self) -> "Allocation":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        if self.released:
            return "<memkind_fixed.Allocation released>"
        return f"<memkind_fixed.Allocation size={self.size} address={self.address:#x}>"


_native.set_allocation_type(Allocation)  # what FixedKind.malloc() makes


def _span(obj: Any) -> Tuple[int, int]:
    """(start address, length) of the memory behind obj."""
    if isinstance(obj, Allocation):
        return obj.address, obj.size
    if isinstance(obj, bool):
        raise TypeError("an address must be an integer, not bool")
    if isinstance(obj, int):
        return obj, 1
    interface = getattr(obj, "__array_interface__", None)
    if interface is not None:
        import numpy
        try:
            from numpy.lib.array_utils import byte_bounds
        except ImportError:  # numpy < 2
            byte_bounds = numpy.byte_bounds  # type: ignore[attr-defined,unused-ignore]
        low, high = byte_bounds(numpy.asarray(obj))
        return low, high - low
    with memoryview(obj) as view:
        cdata = ffi.from_buffer(view.cast("B") if view.ndim != 1 or view.format != "B"
                                else view)
        try:
            return _address(cdata), view.nbytes
        finally:
            ffi.release(cdata)


class FixedKind(_native.KindBase):
    """A heap that lives entirely inside one memory region.

    ``FixedKind(size=n)`` maps an anonymous region of n bytes (rounded up to pages)
    with memkind_region_map(); ``numa_node`` and ``policy`` place it on NUMA nodes,
    ``huge_pages=True`` backs it with 2 MiB huge pages (MemkindError when the system
    has none). ``FixedKind(buffer=obj)`` makes the heap inside a writable, contiguous
    buffer (bytearray, mmap.mmap, numpy array...), kept alive and unresizable while
    the kind lives. ``purge=True`` gives freed pages back to the OS (madvise).

    Use it as a context manager or call close(). close() refuses new allocations at
    once; the kind and its region are destroyed when the last Allocation or numpy
    array in it is gone (so nothing can ever point into a destroyed region).
    All methods are thread-safe.
    """

    def __init__(
        self,
        size: Optional[int] = None,
        *,
        buffer: Any = None,
        numa_node: Optional[int] = None,
        policy: Union[str, int, None] = None,
        huge_pages: bool = False,
        purge: bool = False,
    ) -> None:
        self._heap_ref: Optional[_Heap] = None
        flags = lib.MEMKIND_REGION_PURGE if purge else 0
        if (size is None) == (buffer is None):
            raise TypeError("FixedKind needs exactly one of size= and buffer=")
        if buffer is not None:
            if numa_node is not None or policy is not None or huge_pages:
                raise TypeError("numa_node, policy and huge_pages need size=, not buffer=")
            self._init_buffer(buffer, flags)
        else:
            self._init_mapped(_size_arg(size), numa_node, policy, huge_pages, flags)

    # ------------------------------------------------------------ construction

    def _init_mapped(self, size: int, numa_node: Optional[int], policy: Union[str, int, None],
                     huge_pages: bool, flags: int) -> None:
        if size == 0:
            raise ValueError("size must be positive")
        if numa_node is not None:
            numa_node = _int_arg(numa_node, "numa_node")
        if policy is None:
            policy = "bind" if numa_node is not None else "default"
        if isinstance(policy, str):
            if policy not in POLICIES:
                raise ValueError(f"policy must be one of {sorted(POLICIES)}, got {policy!r}")
            policy_code = POLICIES[policy]
        else:
            policy_code = _int_arg(policy, "policy")
            if policy_code not in POLICIES.values():
                raise ValueError(f"unknown policy {policy_code}")
        if policy_code in (lib.MEMKIND_REGION_POLICY_BIND,
                           lib.MEMKIND_REGION_POLICY_PREFERRED) and numa_node is None:
            raise ValueError(f"policy {policy!r} needs numa_node")
        map_flags = lib.MEMKIND_REGION_MAP_HUGETLB if huge_pages else 0
        unit = _HUGE_PAGE if huge_pages else _mmap.PAGESIZE
        if size > _SIZE_MAX - unit:
            raise OutOfMemoryError(_errno.ENOMEM, f"a region of {size} bytes")
        size = (size + unit - 1) // unit * unit
        node = numa_node if numa_node is not None else 0
        out = ffi.new("void **")
        err = lib.memkind_region_map(out, size, policy_code, min(node, _INT_MAX), map_flags)
        if err == lib.MEMKIND_ERROR_INVALID and numa_node is not None:
            # Everything else that memkind_region_map() calls invalid was checked
            # above, so the node is not one of this machine's memory nodes. Nodes
            # past the C int go in as INT_MAX, which no machine has either.
            raise ValueError(f"numa_node {numa_node} is not a memory node of this machine")
        check(err, f"mapping a region of {size} bytes")
        region = (out[0], size, map_flags)
        try:
            if huge_pages:
                # Fail now rather than with SIGBUS at the first write to a huge page
                # that the pool could not supply.
                err = lib.mkf_populate(out[0], size)
                if err:
                    raise MemkindError(lib.MEMKIND_ERROR_HUGETLB,
                                       f"backing {size} bytes with 2 MiB huge pages "
                                       f"({os.strerror(err)})")
            self._make_heap(out[0], size, flags | lib.MEMKIND_REGION_ZEROED, region, None)
        except BaseException:
            lib.memkind_region_unmap(*region)
            raise

    def _init_buffer(self, buffer: Any, flags: int) -> None:
        try:
            view = memoryview(buffer)
        except TypeError:
            raise TypeError(
                f"buffer must support the buffer protocol, not {type(buffer).__name__}"
            ) from None
        try:
            if view.readonly:
                raise TypeError(f"buffer must be writable; {type(buffer).__name__} is read-only")
            if not view.contiguous:
                raise ValueError("buffer must be contiguous")
            if view.nbytes == 0:
                raise ValueError("buffer is empty")
            cdata = ffi.from_buffer("char[]", view, require_writable=True)
        except BaseException:
            view.release()
            raise
        try:
            self._make_heap(cdata, view.nbytes, flags, None, (cdata, view))
        except BaseException:
            ffi.release(cdata)
            view.release()
            raise

    def _make_heap(self, start: Any, size: int, flags: int,
                   region: Optional[Tuple[Any, int, int]], buffer: Any) -> None:
        out = ffi.new("memkind_t *")
        check(lib.memkind_create_fixed_flags(start, size, flags, out),
              f"creating a kind on {size} bytes at {_address(start):#x}")
        kind = out[0]
        # malloc(0) gives a unique empty block, as bytearray() would: no NULL special case.
        lib.memkind_set_allow_zero_allocs(kind, True)
        heap = _Heap(kind, _address(start), size, bool(flags & lib.MEMKIND_REGION_ZEROED))
        finalizer = weakref.finalize(heap, _destroy, kind, region, buffer)
        # At interpreter exit numpy arrays may still use the region: leave it be.
        finalizer.atexit = False
        self._heap_ref = heap

    # ------------------------------------------------------------ state

    def _heap(self) -> _Heap:
        heap = self._heap_ref
        if heap is None:
            raise ValueError("operation on a closed FixedKind")
        return heap

    @property
    def closed(self) -> bool:
        """True after close()."""
        return self._heap_ref is None

    @property
    def address(self) -> int:
        """Start address of the region."""
        return self._heap().start

    @property
    def size(self) -> int:
        """Size of the region in bytes."""
        return self._heap().size

    @property
    def capacity(self) -> int:
        """Usable bytes of the region (whole pages), as memkind_get_capacity()."""
        return int(lib.memkind_get_capacity(self._heap().kind))

    def close(self) -> None:
        """Refuse new allocations from now on. Idempotent.

        The kind and its region are destroyed once no Allocation, numpy array
        (from zeros/empty/array or numpy_allocator) or installed numpy handler uses
        them any more; right away when there is none.
        """
        self._heap_ref = None

    def __enter__(self) -> "FixedKind":
        self._heap()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        heap = self._heap_ref
        if heap is None:
            return "<memkind_fixed.FixedKind closed>"
        return (f"<memkind_fixed.FixedKind size={heap.size} "
                f"address={heap.start:#x}-{heap.start + heap.size:#x}>")

    # ------------------------------------------------------------ heap

    # malloc(size), calloc(num, size) and free(allocation) are KindBase's, in C
    # (mkf_python.c): a small block costs one call. So are the halves of memalign
    # and realloc that allocate: only C code makes an Allocation, from the block it
    # was just given, and only after the methods below have checked the numbers.
    if TYPE_CHECKING:
        def malloc(self, size: int) -> Allocation:
            """Allocate `size` uninitialised bytes (16-byte aligned)."""

        def calloc(self, num: int, size: int) -> Allocation:
            """Allocate `num` * `size` zeroed bytes."""

        def free(self, allocation: Allocation) -> None:
            """Free a block now (same as allocation.release())."""

        def _own(self, allocation: Allocation) -> None:
            """TypeError unless a block, ValueError unless one of this kind."""

        def _memalign(self, alignment: int, size: int) -> Allocation: ...
        def _realloc(self, allocation: Allocation, size: int) -> Allocation: ...

    def _malloc(self, size: Any) -> Allocation:
        # malloc() of anything but a non-negative exact int that fits a Py_ssize_t,
        # or on a closed kind: raise, or come back with an exact int.
        size = _size_arg(size)
        self._heap()
        return self.malloc(size)

    def _calloc(self, num: Any, size: Any) -> Allocation:
        # calloc() of anything but exact ints whose product fits a Py_ssize_t, or on
        # a closed kind: the same.
        num = _size_arg(num, "num")
        size = _size_arg(size)
        _size_arg(num * size, "num * size")
        self._heap()
        return self.calloc(num, size)

    def _alloc_failed(self, what: str, err: int) -> NoReturn:
        # KindBase's report of a failed allocation (errno `err`).
        heap = self._heap_ref
        raise_for(err, f"{what} in a region of {heap.size} bytes" if heap else what)

    def memalign(self, alignment: int, size: int) -> Allocation:
        """Allocate `size` bytes at a multiple of `alignment` (a power of two, at
        least the size of a pointer)."""
        alignment = _int_arg(alignment, "alignment")
        size = _size_arg(size)
        if alignment < _POINTER_SIZE or alignment & (alignment - 1):
            raise ValueError(
                f"alignment must be a power of two and at least {_POINTER_SIZE}, got {alignment}")
        if alignment > sys.maxsize:  # a valid alignment that no region can offer
            self._alloc_failed(f"memalign({alignment}, {size})", _errno.ENOMEM)
        return self._memalign(alignment, size)

    def realloc(self, allocation: Allocation, size: int) -> Allocation:
        """Resize a block, keeping its contents up to the smaller size.

        Returns a new Allocation; the old one is released (even when the block did
        not move). BufferError while the old one is exported; on OutOfMemoryError
        the old one is left as it was.
        """
        return self._realloc(allocation, _size_arg(size))

    def usable_size(self, allocation: Allocation) -> int:
        """Bytes usable in the block (at least its size; the buffer exposes its size)."""
        heap = self._heap()
        self._own(allocation)
        return int(lib.memkind_malloc_usable_size(heap.kind, ffi.cast("void *",
                                                                      allocation.address)))

    def contains(self, obj: Any) -> bool:
        """True when all of obj's memory lies in this kind's region. obj is an
        Allocation, a numpy array, an address (int) or any buffer."""
        heap = self._heap()
        start, length = _span(obj)
        end = heap.start + heap.size
        if length == 0:
            return heap.start <= start < end
        return heap.start <= start and start + length <= end

    def stats(self) -> KindStats:
        """Region statistics, read now."""
        heap = self._heap()
        out = ffi.new("struct memkind_fixed_stats *")
        check(lib.memkind_fixed_get_stats(heap.kind, out), "reading statistics")
        return KindStats(
            capacity=out.capacity, used=out.used, free=out.free,
            largest_free=out.largest_free, peak_used=out.peak_used,
            allocated=out.allocated, failed_allocs=int(out.failed_allocs),
            regions=out.regions, resident=out.resident,
        )

    def purge(self) -> None:
        """Return the heap's cached free pages to the region now
        (memkind_fixed_purge); allocation also does this before failing."""
        check(lib.memkind_fixed_purge(self._heap().kind), "purging")

    # ------------------------------------------------------------ numpy

    # empty/zeros/full/array are KindBase's, in C (mkf_python.c): the array is made
    # there around the block, so that a small one costs about what numpy's own
    # constructor does (the docstrings are there too).
    if TYPE_CHECKING:
        empty: _ShapeConstructor
        zeros: _ShapeConstructor

        @overload
        def full(self, shape: _ShapeLike, fill_value: object,
                 dtype: type[_ScalarT] | numpy.dtype[_ScalarT]) -> NDArray[_ScalarT]: ...
        @overload
        def full(self, shape: _ShapeLike, fill_value: object,
                 dtype: Optional[DTypeLike] = None) -> NDArray[Any]: ...

        def full(self, shape: _ShapeLike, fill_value: object,
                 dtype: Optional[DTypeLike] = None) -> NDArray[Any]:
            """A C-ordered numpy array in the region, every element fill_value (as
            numpy.full: the dtype is fill_value's when none is given)."""

        @overload
        def array(self, obj: NDArray[_ScalarT], dtype: None = None) -> NDArray[_ScalarT]: ...
        @overload
        def array(self, obj: object,
                  dtype: type[_ScalarT] | numpy.dtype[_ScalarT]) -> NDArray[_ScalarT]: ...
        @overload
        def array(self, obj: object, dtype: Optional[DTypeLike] = None) -> NDArray[Any]: ...

        def array(self, obj: object, dtype: Optional[DTypeLike] = None) -> NDArray[Any]:
            """A C-ordered copy of obj (anything numpy.asarray takes) in the region."""

    def _array_args(self, shape: Any, dtype: Any
                    ) -> Tuple[Tuple[int, ...], "numpy.dtype[Any]"]:
        # The array constructors' checked path (mkf_python.c): shapes other than
        # exact ints, unusable dtypes and sizes past any buffer raise here; anything
        # else comes back as (dims, dtype).
        dims, dt, _, nbytes = _array_layout(shape, dtype)
        _size_arg(nbytes, "the array's size")
        return dims, dt


def _array_layout(shape: _ShapeLike, dtype: DTypeLike
                  ) -> Tuple[Tuple[int, ...], "numpy.dtype[Any]", int, int]:
    """(dims, dtype, item count, bytes) of a C-ordered array, checked."""
    try:
        import numpy
    except ImportError as e:
        raise ImportError("FixedKind.empty/zeros/array need numpy") from e
    dt = numpy.dtype(dtype)
    if dt.hasobject:
        raise TypeError("arrays of Python objects cannot live in a region")
    dims = (_int_arg(shape, "shape"),) if not isinstance(shape, (tuple, list)) else tuple(
        _int_arg(n, "a dimension") for n in shape)
    if dt.itemsize == 0:
        # numpy.frombuffer refuses these; and with no bytes to count, a huge
        # shape would get past the size checks to fail there as OverflowError.
        raise ValueError(f"dtype {dt} has items of 0 bytes")
    count = 1
    for n in dims:
        count *= n
    nbytes = count * dt.itemsize
    return dims, dt, count, nbytes
