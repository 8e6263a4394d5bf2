# Types of the extension module: cffi's `ffi` and `lib` (whose names come from
# bindings/cffi/memkind_fixed.cdef) plus what mkf_python.c adds to it.
from typing import Any

ffi: Any
lib: Any

class Block:
    """A block of a fixed kind that exports its bytes (base of Allocation)."""
    def release(self) -> None: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __release_buffer__(self, buffer: memoryview, /) -> None: ...

class SharedBlock(Block):
    """A block of a shared kind under SharedArrays, freed by its owner process."""
    address: int
    size: int
    exports: int
    released: bool
    pid: int
    heap: object
    def _free(self) -> None: ...

class KindBase:
    """The C part of FixedKind: its owner, malloc() and free()."""

def set_allocation_type(cls: type, /) -> None: ...
def numpy_handler(owner: object, kind_address: int, /) -> Any: ...
def numpy_set_handler(handler: Any, /) -> Any: ...
def handler_live_blocks(capsule: Any, /) -> int: ...
def array_data(arr: Any, /) -> int: ...
