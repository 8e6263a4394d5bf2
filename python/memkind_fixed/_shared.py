"""SharedKind: one heap in a shared memory segment that several processes use at once.

A SharedKind is a FixedKind (same malloc/calloc/memalign/realloc/free, same
lifetime rules: the kind is detached when its last Allocation or array goes) whose
region is this process's mapping of a POSIX shared memory segment (docs/shared.md).

Across processes a block is named by its offset in the segment. A SharedKind
pickles as its name; a SharedArray (what SharedKind.empty/zeros/array return)
pickles as a short tuple (name, offset and size of the block, offset of the data
in it, shape, dtype, strides): unpickling attaches to the segment once per
process (a per-process registry, name -> SharedKind) and gives an array over the
receiver's own mapping of the same bytes, no copy; after the first, it is a dict
lookup, some arithmetic and an ndarray.

A SharedArray's numpy base is a _native.SharedBlock (mkf_python.c): a Block that
records which process frees it when it is collected, made in C with the block,
so that SharedKind.empty costs what FixedKind.empty does.

Who frees a block: the process that allocated it, when the array's last reference
there dies; a receiver's array is a view that frees nothing, unless the sender
called ``arr.disown()`` before sending and the receiver ``kind.free_array(arr)``
(or ``kind.adopt(arr)``). Exactly one process must free a block.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import threading
import weakref
from typing import (TYPE_CHECKING, Any, Dict, List, Optional, Protocol, SupportsIndex, Tuple,
                    TypeVar, overload)

from . import _native
from ._errors import check
from ._kind import (FixedKind, KindStats, _address, _destroy, _Heap, _int_arg,
                    _ScalarT, _ShapeLike, _size_arg, _span)
from ._native import SharedBlock as _SharedBlock
from ._native import array_data as _array_data
from ._native import ffi, lib

if TYPE_CHECKING:
    import numpy
    from numpy import ndarray as _ndarray
    from numpy.typing import DTypeLike
    _ndarray_new: Any

_DTypeT_co = TypeVar("_DTypeT_co", bound="numpy.dtype[Any]", covariant=True)

if TYPE_CHECKING:
    class _SharedShapeConstructor(Protocol):
        """SharedKind.empty and zeros: FixedKind's, giving SharedArrays."""

        @overload
        def __call__(self, shape: _ShapeLike) -> SharedArray[numpy.dtype[numpy.float64]]: ...
        @overload
        def __call__(self, shape: _ShapeLike, dtype: type[_ScalarT] | numpy.dtype[_ScalarT]
                     ) -> SharedArray[numpy.dtype[_ScalarT]]: ...
        @overload
        def __call__(self, shape: _ShapeLike, dtype: DTypeLike
                     ) -> SharedArray[numpy.dtype[Any]]: ...

__all__ = ["SharedArray", "SharedKind", "SharedStats", "shared_cleanup", "SHM_PREFIX"]

#: Names that SharedKind.create() makes: "/mkf-<pid>-<random>" (shared_cleanup's prefix).
SHM_PREFIX = "/mkf-"
_SHM_DIR = "/dev/shm"


@dataclasses.dataclass(frozen=True)
class SharedStats(KindStats):
    """KindStats of this process's attachment (memkind_fixed_get_stats: `used` is
    the pages this process holds) plus the whole heap's (memkind_shared_get_stats)."""

    segment_size: int = 0       #: the segment: header, page map and heap
    heap_used: int = 0          #: bytes of pages held by any process, dead ones included
    heap_free: int = 0          #: capacity - heap_used
    heap_largest_free: int = 0  #: the largest run of free pages
    dead_used: int = 0          #: of heap_used, held by dead or detached processes
    processes: int = 0          #: processes attached and alive
    dead_processes: int = 0     #: slots of dead/detached processes still holding pages
    recoveries: int = 0         #: page map repairs after a lock holder died
    slot: int = 0               #: this attachment's process slot
    process_allocated: int = 0  #: bytes of this process's blocks not yet freed
    remote_frees: int = 0       #: blocks other processes freed to this one


class _SharedHeap(_Heap):
    # data_offset: the offset in the segment of the heap's first byte (`start`),
    # so that offset <-> address is arithmetic (memkind_shared_offset/_ptr's).
    __slots__ = ("name", "data_offset")

    def __init__(self, kind: Any, start: int, size: int, name: str,
                 data_offset: int) -> None:
        super().__init__(kind, start, size, True)
        self.name = name
        self.data_offset = data_offset


# Per process: every live shared heap (to find the one an address lies in), every
# SharedKind by name (weak), and the attachments that unpickling made (kept, so
# that 10 000 arrays attach once). After fork() the child inherits them: the C
# library attaches a fork child in its own right, with the same handles.
_lock = threading.RLock()
_heaps: "weakref.WeakSet[_SharedHeap]" = weakref.WeakSet()
# name -> weak reference (a plain dict: unpickling looks here for every array)
_by_name: "Dict[str, weakref.ref[SharedKind]]" = {}
_kept: Dict[str, "SharedKind"] = {}


def _purge_all() -> None:
    """At the exit of the interpreter or of a multiprocessing worker: give back
    every page this process holds and no block uses (cached slabs, the parked
    large block, the thread caches). The mapping stays (arrays may still be read
    while the interpreter ends), but a process that held only temporary blocks
    then holds no page, and its slot is free for the next process as soon as it
    is gone (a pool that starts a worker per task never fills the 64 slots)."""
    with _lock:
        heaps = list(_heaps)
    for heap in heaps:
        lib.memkind_fixed_purge(heap.kind)


def _install_exit_hooks() -> None:
    # atexit: the interpreter's exit. multiprocessing's workers end with
    # os._exit() after running its own finalizers, which a child starts without
    # (the registry is emptied at its start): hence register_after_fork too.
    import atexit
    import multiprocessing.util as mputil
    atexit.register(_purge_all)
    mputil.Finalize(None, _purge_all, exitpriority=0)


_install_exit_hooks()
try:
    import multiprocessing.util as _mputil
    _mputil.register_after_fork(_purge_all, lambda _: _install_exit_hooks())
except ImportError:  # pragma: no cover - a Python without multiprocessing
    pass


def _unlink(name: str, pid: int) -> None:
    # Only in the process that created the segment (not in a fork child of it).
    if os.getpid() == pid:
        lib.memkind_shared_unlink(name.encode())


class SharedKind(FixedKind):
    """A heap in a named shared memory segment, attached by several processes.

    ``SharedKind.create(size, name=None)`` makes the segment ("/mkf-<pid>-<random>"
    when name is None) and attaches; ``SharedKind.attach(name)`` attaches to an
    existing one. ``close()`` (or leaving ``with``) refuses new allocations; the
    attachment is detached once no block or array of this process uses it. The
    creator's close() also unlinks the name (as does ``unlink()``, or the creator's
    exit): processes attached already keep the memory, new ones cannot attach.
    """

    _creator: bool
    _unlinker: "Optional[weakref.finalize[Any, Any]]"

    def __init__(self, name: str, size: Optional[int] = None) -> None:
        """SharedKind(name, size) creates, SharedKind(name) attaches; prefer
        SharedKind.create / SharedKind.attach."""
        self._heap_ref = None
        self._unlinker = None
        self._creator = size is not None
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        out = ffi.new("memkind_t *")
        if size is not None:
            size = _size_arg(size)
            if size == 0:
                raise ValueError("size must be positive")
            check(lib.memkind_shared_create(name.encode(), size, 0, out),
                  f"creating shared heap {name!r} of {size} bytes")
        else:
            check(lib.memkind_shared_attach(name.encode(), out),
                  f"attaching shared heap {name!r}")
        kind = out[0]
        self._shared_arrays = True
        try:
            if self._creator:
                self._unlinker = weakref.finalize(self, _unlink, name, os.getpid())
            lib.memkind_set_allow_zero_allocs(kind, True)
            shared = ffi.new("struct memkind_shared_stats *")
            check(lib.memkind_shared_get_stats(kind, shared), "reading shared statistics")
            capacity = int(shared.capacity)
            # The heap is the segment's last `capacity` bytes (docs/shared.md).
            data_offset = int(shared.segment_size) - capacity
            start = lib.memkind_shared_ptr(kind, data_offset)
            if start == ffi.NULL:
                raise RuntimeError("cannot locate the shared heap in its segment")
            heap = _SharedHeap(kind, _address(start), capacity, name, data_offset)
        except BaseException:
            lib.memkind_shared_detach(kind)
            if self._unlinker is not None:
                self._unlinker()
            raise
        finalizer = weakref.finalize(heap, _destroy, kind, None, None)
        finalizer.atexit = False  # arrays may still use the mapping at exit
        self._heap_ref = heap
        with _lock:
            _heaps.add(heap)
            _by_name[name] = weakref.ref(self)

    @classmethod
    def create(cls, size: int, name: Optional[str] = None) -> "SharedKind":
        """Create a shared heap of `size` usable bytes and attach to it."""
        if name is None:
            name = f"{SHM_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
        return cls(name, size)

    @classmethod
    def attach(cls, name: str) -> "SharedKind":
        """Attach to the shared heap `name` (a new attachment, with its own slot)."""
        return cls(name)

    # ------------------------------------------------------------ state

    def _shared_heap(self) -> _SharedHeap:
        heap = self._heap()
        assert isinstance(heap, _SharedHeap)
        return heap

    @property
    def name(self) -> str:
        """The segment's POSIX shared memory name."""
        return self._shared_heap().name

    @property
    def creator(self) -> bool:
        """True in the SharedKind that created the segment."""
        return self._creator

    def close(self) -> None:
        """Refuse new allocations; detach once nothing of this process uses the
        heap; the creator also unlinks the segment's name. Idempotent."""
        heap = self._heap_ref
        if heap is not None:
            with _lock:
                assert isinstance(heap, _SharedHeap)
                ref = _by_name.get(heap.name)
                if ref is not None and ref() is self:
                    del _by_name[heap.name]
                if _kept.get(heap.name) is self:
                    del _kept[heap.name]
        if self._unlinker is not None:
            self._unlinker()
        super().close()

    def unlink(self) -> None:
        """Remove the segment's name now (shm_unlink): attached processes keep it,
        no new one can attach. Any process may call it; idempotent."""
        name = self.name
        if self._unlinker is not None:
            self._unlinker.detach()
        lib.memkind_shared_unlink(name.encode())

    def __enter__(self) -> "SharedKind":
        self._heap()
        return self

    def __repr__(self) -> str:
        heap = self._heap_ref
        if heap is None:
            return "<memkind_fixed.SharedKind closed>"
        assert isinstance(heap, _SharedHeap)
        return (f"<memkind_fixed.SharedKind name={heap.name!r} size={heap.size} "
                f"address={heap.start:#x}-{heap.start + heap.size:#x}>")

    def __reduce__(self) -> Tuple[Any, Tuple[str]]:
        return _registered, (self.name,)

    def stats(self) -> SharedStats:
        """This process's statistics and the whole heap's, read now."""
        base = super().stats()
        out = ffi.new("struct memkind_shared_stats *")
        check(lib.memkind_shared_get_stats(self._heap().kind, out), "reading shared statistics")
        return SharedStats(
            **dataclasses.asdict(base),
            segment_size=int(out.segment_size), heap_used=int(out.used),
            heap_free=int(out.free), heap_largest_free=int(out.largest_free),
            dead_used=int(out.dead_used), processes=int(out.processes),
            dead_processes=int(out.dead_processes), recoveries=int(out.recoveries),
            slot=int(out.slot), process_allocated=int(out.process_allocated),
            remote_frees=int(out.remote_frees))

    def reclaim(self) -> int:
        """Declare the blocks of dead and detached processes garbage and give their
        pages back, with the large block each other process keeps parked for reuse
        (memkind_shared_reclaim); returns the bytes returned."""
        out = ffi.new("size_t *")
        check(lib.memkind_shared_reclaim(self._heap().kind, out), "reclaiming")
        return int(out[0])

    # ------------------------------------------------------------ offsets

    def offset(self, obj: Any) -> int:
        """The offset in the segment (the same in every process) of an address
        (int), an Allocation, a numpy array or a buffer of this heap."""
        heap = self._heap()
        start, _ = _span(obj)
        off = int(lib.memkind_shared_offset(heap.kind, ffi.cast("void *", start)))
        if off == 0:
            raise ValueError(f"address {start:#x} is not in this shared heap")
        return off

    def address_of(self, offset: int) -> int:
        """The address in this process of `offset` (the inverse of offset())."""
        off = _int_arg(offset, "offset")
        p = lib.memkind_shared_ptr(self._heap().kind, off)
        if p == ffi.NULL:
            raise ValueError(f"offset {off} is not in this shared heap")
        return _address(p)

    # ------------------------------------------------------------ numpy

    # empty/zeros/full/array are FixedKind's (KindBase's, in C), which make a
    # SharedArray over a SharedBlock for a SharedKind (`_shared_arrays`).
    if TYPE_CHECKING:
        empty: _SharedShapeConstructor
        zeros: _SharedShapeConstructor

        @overload
        def full(self, shape: _ShapeLike, fill_value: object,
                 dtype: type[_ScalarT] | numpy.dtype[_ScalarT]
                 ) -> SharedArray[numpy.dtype[_ScalarT]]: ...
        @overload
        def full(self, shape: _ShapeLike, fill_value: object,
                 dtype: Optional[DTypeLike] = None) -> SharedArray[numpy.dtype[Any]]: ...

        def full(self, shape: _ShapeLike, fill_value: object,
                 dtype: Optional[DTypeLike] = None) -> SharedArray[numpy.dtype[Any]]:
            """A C-ordered SharedArray of fill_value in the shared heap."""

        @overload
        def array(self, obj: numpy.ndarray[Any, numpy.dtype[_ScalarT]], dtype: None = None
                  ) -> SharedArray[numpy.dtype[_ScalarT]]: ...
        @overload
        def array(self, obj: object, dtype: type[_ScalarT] | numpy.dtype[_ScalarT]
                  ) -> SharedArray[numpy.dtype[_ScalarT]]: ...
        @overload
        def array(self, obj: object, dtype: Optional[DTypeLike] = None
                  ) -> SharedArray[numpy.dtype[Any]]: ...

        def array(self, obj: object, dtype: Optional[DTypeLike] = None
                  ) -> SharedArray[numpy.dtype[Any]]:
            """A C-ordered SharedArray copy of obj in the shared heap."""

        # KindBase's, in C (mkf_python.c).
        def _shared_view(self, address: int, size: int, lease: int = 0) -> _SharedBlock: ...

    def free_array(self, arr: "numpy.ndarray[Any, Any]") -> None:
        """Free the block under `arr` now, whichever process allocated it (a
        receiver frees the blocks its sender disowned). `arr` and every other
        view of the block must not be used afterwards."""
        self._own_block(arr)._free()

    def adopt(self, arr: "numpy.ndarray[Any, Any]") -> None:
        """Make this process the owner of the block under `arr` (one its sender
        disowned): it is freed when the last array of it here goes."""
        self._own_block(arr).pid = os.getpid()

    def _own_block(self, arr: Any) -> _SharedBlock:
        block = _block_of(arr)
        if block is None or not isinstance(block.heap, _SharedHeap) \
                or block.heap.name != self.name:
            raise ValueError("not an array of a block of this SharedKind")
        return block


def _block_of(arr: Any) -> Optional[_SharedBlock]:
    base = arr
    while base is not None:
        if type(base) is _SharedBlock:
            return base
        base = getattr(base, "base", None)
    return None


def _registered(name: str) -> SharedKind:
    """This process's SharedKind for `name`: an open one if there is one, else a
    new attachment, kept for the life of the process (or until closed)."""
    ref = _by_name.get(name)
    kind = ref() if ref is not None else None
    if kind is not None and kind._heap_ref is not None:
        return kind
    with _lock:
        ref = _by_name.get(name)
        kind = ref() if ref is not None else None
        if kind is None or kind.closed:
            kind = SharedKind.attach(name)
            _kept[name] = kind
        return kind


def _rebuild(name: str, offset: int, nbytes: int, data_offset: int,
             shape: Tuple[int, ...], dtype: Any,
             strides: Tuple[int, ...], lease: int = 0) -> "SharedArray[Any]":
    """Unpickle a SharedArray: the block of `nbytes` at `offset` in segment `name`,
    the array's data `data_offset` bytes into it. `lease`, when not 0, is the
    offset of a lease counter that the view gives a unit back to when it goes
    (memkind_fixed.dask)."""
    kind = _registered(name)
    heap = kind._heap_ref
    assert isinstance(heap, _SharedHeap)
    rel = offset - heap.data_offset
    if rel < 0 or nbytes < 0 or rel + nbytes > heap.size:
        raise ValueError(f"a block of {nbytes} bytes at offset {offset} is not in "
                         f"the shared heap {name!r}")
    lease_address = kind.address_of(lease) if lease else 0
    block = kind._shared_view(heap.start + rel, nbytes, lease_address)
    # numpy checks that offset, shape and strides stay inside the block.
    array: SharedArray[Any] = _ndarray_new(SharedArray, shape, dtype, block, data_offset, strides)
    return array


if not TYPE_CHECKING:
    try:
        import numpy as _numpy
    except ImportError:  # numpy is optional: no SharedArray without it
        class _ndarray:
            def __class_getitem__(cls, item):
                return cls
        _ndarray_new = None
    else:
        _ndarray = _numpy.ndarray
        _ndarray_new = _numpy.ndarray.__new__

# How a handle names its dtype: a plain one by its string ('<f8'), which numpy
# parses faster than it unpickles a dtype, and which, being the same str object
# each time, a list of arrays pickles once; anything else (records, metadata)
# as the dtype itself. Plain dtypes are few: they are kept here.
_dtype_codes: "Dict[numpy.dtype[Any], str]" = {}


def _dtype_code(dt: "numpy.dtype[Any]") -> Any:
    if dt.isbuiltin != 1:
        return dt
    code: str = dt.str
    _dtype_codes[dt] = code
    return code


class SharedArray(_ndarray[Tuple[Any, ...], _DTypeT_co]):
    """A numpy array whose data is a block of a SharedKind (what its empty, zeros,
    full and array return; views of it are SharedArrays too).

    Pickles as a handle (segment name, offsets, shape, dtype, strides): the receiver
    gets a SharedArray over its own mapping of the same bytes, no copy, that frees
    nothing. A SharedArray whose data is not in a shared heap (a result of
    arithmetic on one) pickles as a plain ndarray, by copy.
    """

    # pickle asks for __reduce_ex__ first: answering here skips numpy's own
    # (which would call back into __reduce__ for a subclass).
    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        block: Any = self.base
        if type(block) is not _SharedBlock:
            block = _block_of(self)
        if block is None or block.released or not isinstance(block.heap, _SharedHeap):
            return self.view(_ndarray).__reduce_ex__(protocol)
        heap = block.heap
        start = block.address
        dt = self.dtype
        code = _dtype_codes.get(dt)
        if code is None:
            code = _dtype_code(dt)
        return _rebuild, (heap.name, heap.data_offset + start - heap.start, block.size,
                          _array_data(self) - start, self.shape, code, self.strides)

    def __reduce__(self) -> Any:
        return self.__reduce_ex__(2)

    def disown(self) -> "SharedArray[_DTypeT_co]":
        """This process will not free the block (a receiver takes it over with
        SharedKind.free_array or adopt). Returns self."""
        block = _block_of(self)
        if block is None:
            raise ValueError("not an array of a SharedKind block")
        block.pid = 0
        return self

    @property
    def shared_kind(self) -> SharedKind:
        """This process's SharedKind of the block (attached on unpickling)."""
        block = _block_of(self)
        if block is None or not isinstance(block.heap, _SharedHeap):
            raise ValueError("not an array of a SharedKind block")
        return _registered(block.heap.name)

    @property
    def shared_offset(self) -> int:
        """The offset of the data in its segment, the same in every process."""
        block = _block_of(self)
        if block is None or not isinstance(block.heap, _SharedHeap):
            raise ValueError("not an array of a SharedKind block")
        heap = block.heap
        return heap.data_offset + _array_data(self) - heap.start


if not TYPE_CHECKING and _ndarray_new is not None:
    # The class above is the source of SharedArray's methods; the type itself is made
    # in C (mkf_python.c says why), and it is what SharedKind.empty/zeros/full/array
    # make.
    SharedArray = _native.shared_array_type(SharedArray)


def shared_cleanup(prefix: str = SHM_PREFIX) -> List[str]:
    """Unlink the segments that SharedKind.create() named (prefix "/mkf-") for
    processes that are gone ("/mkf-<pid>-...": no process `pid`), e.g. after a
    crash or kill -9. Segments of live processes, and names without a pid, are
    left alone. Returns the names unlinked."""
    if not prefix.startswith("/"):
        raise ValueError("a POSIX shared memory prefix starts with '/'")
    removed: List[str] = []
    try:
        entries = os.listdir(_SHM_DIR)
    except FileNotFoundError:
        return removed
    for entry in sorted(entries):
        name = "/" + entry
        if not name.startswith(prefix):
            continue
        pid_text = name[len(prefix):].split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if pid == os.getpid() or _alive(pid):
            continue
        if lib.memkind_shared_unlink(name.encode()) == 0:
            removed.append(name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is gone for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
