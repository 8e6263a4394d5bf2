"""numpy's NEP 49 memory handler on a FixedKind."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from . import _native
from ._kind import FixedKind

__all__ = ["NumpyHandler", "numpy_allocator", "handler_name"]

#: What numpy._core.multiarray.get_handler_name(array) says for arrays allocated here.
handler_name = "memkind_fixed"


class NumpyHandler:
    """The handler that numpy_allocator() installed (what its ``with`` gives)."""

    def __init__(self, kind: FixedKind, capsule: Any) -> None:
        self.kind = kind
        self._capsule = capsule  # keeps the kind's heap alive while this object lives

    @property
    def live_blocks(self) -> int:
        """Array data blocks allocated through this handler and not freed yet; it
        falls as such arrays go, also after the ``with`` block."""
        return int(_native.handler_live_blocks(self._capsule))

    def __repr__(self) -> str:
        return f"<memkind_fixed.NumpyHandler live_blocks={self.live_blocks} kind={self.kind!r}>"


@contextlib.contextmanager
def numpy_allocator(kind: FixedKind) -> Iterator[NumpyHandler]:
    """Allocate the data of every numpy array created in the block in `kind`.

    Uses numpy's memory-handler API (NEP 49, numpy >= 1.22). The handler is set for
    the current thread / asyncio context only, and the previous one is restored on
    exit; blocks nest. Arrays made inside may outlive the block: numpy frees their
    data through the handler stored on each array, and every such array keeps the
    kind alive (also past kind.close()). When the region is exhausted numpy raises
    its own MemoryError. Requires numpy; raises ValueError on a closed kind.
    """
    heap = kind._heap()
    capsule = _native.numpy_handler(heap, heap.kind_address)
    previous = _native.numpy_set_handler(capsule)
    try:
        yield NumpyHandler(kind, capsule)
    finally:
        _native.numpy_set_handler(previous)
