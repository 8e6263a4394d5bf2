"""SharedKind: one heap in a shared memory segment that several processes use at once.

A SharedKind is a FixedKind (same malloc/calloc/memalign/realloc/free, same
lifetime rules: the kind is detached when its last Allocation or array goes) whose
region is this process's mapping of a POSIX shared memory segment (docs/shared.md).

Across processes a block is named by its offset in the segment. A SharedKind
pickles as its name; a SharedArray (what SharedKind.empty/zeros/array return)
pickles as (name, offset, shape, dtype, strides): unpickling attaches to the
segment once per process (a per-process registry, name -> SharedKind) and gives an
array over the receiver's own mapping of the same bytes, no copy.

Who frees a block: the process that allocated it, when the array's last reference
there dies; a receiver's array is a view that frees nothing, unless the sender
called ``arr.disown()`` before sending and the receiver ``kind.free_array(arr)``
(or ``kind.adopt(arr)``). Exactly one process must free a block.
"""

from __future__ import annotations

import dataclasses
import errno as _errno
import os
import secrets
import threading
import weakref
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from ._errors import check
from ._kind import (FixedKind, KindStats, _address, _array_layout, _destroy, _Heap, _int_arg,
                    _size_arg, _span)
from ._native import ffi, lib

if TYPE_CHECKING:
    import numpy
    from numpy.typing import DTypeLike, NDArray

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
    __slots__ = ("name",)

    def __init__(self, kind: Any, start: int, size: int, name: Optional[str]) -> None:
        super().__init__(kind, start, size, True)
        self.name = name


# Per process: every live shared heap (to find the one an address lies in), every
# SharedKind by name (weak), and the attachments that unpickling made (kept, so
# that 10 000 arrays attach once). After fork() the child inherits them: the C
# library attaches a fork child in its own right, with the same handles.
_lock = threading.RLock()
_heaps: "weakref.WeakSet[_SharedHeap]" = weakref.WeakSet()
_by_name: "weakref.WeakValueDictionary[str, SharedKind]" = weakref.WeakValueDictionary()
_kept: Dict[str, "SharedKind"] = {}


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
        try:
            if self._creator:
                self._unlinker = weakref.finalize(self, _unlink, name, os.getpid())
            lib.memkind_set_allow_zero_allocs(kind, True)
            shared = ffi.new("struct memkind_shared_stats *")
            check(lib.memkind_shared_get_stats(kind, shared), "reading shared statistics")
            capacity = int(shared.capacity)
            # The heap is the segment's last `capacity` bytes (docs/shared.md).
            start = lib.memkind_shared_ptr(kind, int(shared.segment_size) - capacity)
            if start == ffi.NULL:
                raise RuntimeError("cannot locate the shared heap in its segment")
            heap = _SharedHeap(kind, _address(start), capacity, name)
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
            _by_name[name] = self

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
        name = self._shared_heap().name
        assert name is not None
        return name

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
                if heap.name is not None:
                    if _by_name.get(heap.name) is self:
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

    def _array(self, shape: Any, dtype: DTypeLike, zero: bool) -> NDArray[Any]:
        # FixedKind's layout checks; the block is a _SharedBlock, which can be
        # disowned (an Allocation can't), under a SharedArray.
        dims, dt, _, nbytes = _array_layout(shape, dtype)
        heap = self._shared_heap()
        nbytes = _size_arg(nbytes, "the array's size")
        if dt.alignment > 16:
            out = ffi.new("void **")
            err = lib.memkind_posix_memalign(heap.kind, out, dt.alignment, nbytes)
            if err:
                self._alloc_failed(f"an array of {nbytes} bytes", err)
            ptr = out[0]
            if zero:
                ffi.memmove(ptr, bytes(nbytes), nbytes)
        else:
            ptr = (lib.memkind_calloc(heap.kind, 1, nbytes) if zero
                   else lib.memkind_malloc(heap.kind, nbytes))
            if ptr == ffi.NULL:
                self._alloc_failed(f"an array of {nbytes} bytes", _errno.ENOMEM)
        block = _SharedBlock(heap, _address(ptr), nbytes, os.getpid())
        return _make_array(block, block.address, dims, dt, None)

    def free_array(self, arr: "numpy.ndarray[Any, Any]") -> None:
        """Free the block under `arr` now, whichever process allocated it (a
        receiver frees the blocks its sender disowned). `arr` and every other
        view of the block must not be used afterwards."""
        block = _block_of(arr)
        if block is None or block.heap.name != self.name:
            raise ValueError("not an array of a block of this SharedKind")
        block.free()

    def adopt(self, arr: "numpy.ndarray[Any, Any]") -> None:
        """Make this process the owner of the block under `arr` (one its sender
        disowned): it is freed when the last array of it here goes."""
        block = _block_of(arr)
        if block is None or block.heap.name != self.name:
            raise ValueError("not an array of a block of this SharedKind")
        block.owner = os.getpid()


class _SharedBlock:
    """A block of a shared heap under SharedArrays (their numpy base). Freed when
    collected in its owner process (`owner` is a pid; 0 for nobody), unless freed
    already. Keeps the heap, and so this process's mapping, alive."""

    __slots__ = ("heap", "address", "nbytes", "owner", "freed", "__weakref__")

    def __init__(self, heap: _SharedHeap, address: int, nbytes: int, owner: int) -> None:
        self.heap = heap
        self.address = address
        self.nbytes = nbytes
        self.owner = owner
        self.freed = False

    @property
    def __array_interface__(self) -> Dict[str, Any]:
        return {"version": 3, "shape": (self.nbytes,), "typestr": "|u1",
                "data": (self.address, False)}

    def free(self) -> None:
        with _lock:
            if self.freed:
                raise ValueError("the block was freed already")
            self.freed = True
        lib.memkind_free(self.heap.kind, ffi.cast("void *", self.address))

    def __del__(self) -> None:
        if not self.freed and self.owner == os.getpid():
            self.freed = True
            lib.memkind_free(self.heap.kind, ffi.cast("void *", self.address))


def _make_array(block: _SharedBlock, address: int, shape: Tuple[int, ...],
                dtype: "numpy.dtype[Any]", strides: Optional[Tuple[int, ...]]
                ) -> "SharedArray":
    import numpy
    raw = numpy.asarray(block)  # uint8[nbytes], base: the block
    array: SharedArray = _ndarray.__new__(SharedArray, shape, dtype, buffer=raw,
                                          offset=address - block.address, strides=strides)
    return array


def _block_of(arr: Any) -> Optional[_SharedBlock]:
    base = arr
    while base is not None:
        if isinstance(base, _SharedBlock):
            return base
        base = getattr(base, "base", None)
    return None


def _registered(name: str) -> SharedKind:
    """This process's SharedKind for `name`: an open one if there is one, else a
    new attachment, kept for the life of the process (or until closed)."""
    with _lock:
        kind = _by_name.get(name)
        if kind is None or kind.closed:
            kind = SharedKind.attach(name)
            _kept[name] = kind
        return kind


def _rebuild(name: str, block_offset: int, nbytes: int, data_offset: int,
             shape: Tuple[int, ...], dtype: "numpy.dtype[Any]",
             strides: Tuple[int, ...]) -> "SharedArray":
    kind = _registered(name)
    start = kind.address_of(block_offset)
    block = _SharedBlock(kind._shared_heap(), start, nbytes, 0)
    return _make_array(block, start + data_offset, shape, dtype, strides)


try:
    import numpy as _numpy
except ImportError:  # numpy is optional: no SharedArray without it
    _ndarray: Any = object
else:
    _ndarray = _numpy.ndarray


class SharedArray(_ndarray):  # type: ignore[misc]
    """A numpy array whose data is a block of a SharedKind (what its empty, zeros
    and array return; views of it are SharedArrays too).

    Pickles as a handle (segment name, offsets, shape, dtype, strides): the receiver
    gets a SharedArray over its own mapping of the same bytes, no copy, that frees
    nothing. A SharedArray whose data is not in a shared heap (a result of
    arithmetic on one) pickles as a plain ndarray, by copy.
    """

    def __reduce__(self) -> Any:
        block = _block_of(self)
        if block is None or block.freed or block.heap.name is None:
            return self.view(_ndarray).__reduce__()
        heap = block.heap
        off = int(lib.memkind_shared_offset(heap.kind, ffi.cast("void *", block.address)))
        if off == 0:
            return self.view(_ndarray).__reduce__()
        return _rebuild, (heap.name, off, block.nbytes, int(self.ctypes.data) - block.address,
                          tuple(self.shape), self.dtype, tuple(self.strides))

    def disown(self) -> "SharedArray":
        """This process will not free the block (a receiver takes it over with
        SharedKind.free_array or adopt). Returns self."""
        block = _block_of(self)
        if block is None:
            raise ValueError("not an array of a SharedKind block")
        block.owner = 0
        return self

    @property
    def shared_kind(self) -> SharedKind:
        """This process's SharedKind of the block (attached on unpickling)."""
        block = _block_of(self)
        if block is None or block.heap.name is None:
            raise ValueError("not an array of a SharedKind block")
        return _registered(block.heap.name)

    @property
    def shared_offset(self) -> int:
        """The offset of the data in its segment, the same in every process."""
        block = _block_of(self)
        if block is None:
            raise ValueError("not an array of a SharedKind block")
        base = int(lib.memkind_shared_offset(block.heap.kind,
                                             ffi.cast("void *", block.address)))
        return base + int(self.ctypes.data) - block.address


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
