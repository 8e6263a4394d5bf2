"""ctypes_test.py LIB: Python loads the shared library late (as it loads every
extension module) and allocates in a fixed kind through it. A jemalloc built
with initial-exec TLS fails right at load here."""
import ctypes
import mmap
import sys


def main(path: str) -> int:
    lib = ctypes.CDLL(path)
    lib.memkind_create_fixed.argtypes = [ctypes.c_void_p, ctypes.c_size_t,
                                         ctypes.POINTER(ctypes.c_void_p)]
    lib.memkind_malloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.memkind_malloc.restype = ctypes.c_void_p
    lib.memkind_free.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.memkind_destroy_kind.argtypes = [ctypes.c_void_p]

    size = 4 << 20
    area = mmap.mmap(-1, size)
    base = ctypes.addressof(ctypes.c_char.from_buffer(area))
    kind = ctypes.c_void_p()
    failed = 0
    rc = lib.memkind_create_fixed(base, size, ctypes.byref(kind))
    failed += rc != 0
    p = lib.memkind_malloc(kind, 1000)
    failed += not (p and base <= p < base + size)
    ctypes.memmove(p, b"hello from a fixed kind", 23)
    failed += ctypes.string_at(p, 23) != b"hello from a fixed kind"
    failed += area[p - base:p - base + 5] != b"hello"
    lib.memkind_free(kind, p)
    failed += lib.memkind_destroy_kind(kind) != 0
    del p
    print(f"ctypes_test: {5 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
