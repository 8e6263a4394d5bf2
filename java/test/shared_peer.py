"""shared_peer.py - shared_peer.c in Python: the other process of SharedKindTest, on
the same shared heap through the repository's Python package (memkind_fixed) and
its public API only. The same command line and commands as shared_peer.c:

    python3 shared_peer.py create NAME SIZE | attach NAME

Blocks it allocates are numpy arrays of the SharedKind, disowned (the Java process
may free them); it reads and writes blocks at offsets through kind.address_of()
and frees another process's block with memkind_free(NULL, ...) (mkf.lib).
"""

import sys

import numpy

import memkind_fixed as mkf


def pattern(seed: int, size: int) -> "numpy.ndarray":
    """shared_peer.c's pattern: byte i is (seed * 131 + i * 7 + (i >> 8)) mod 256."""
    i = numpy.arange(size, dtype=numpy.uint64)
    return ((seed * 131 + i * 7 + (i >> 8)) & 0xFF).astype(numpy.uint8)


def at(kind: mkf.SharedKind, offset: int, size: int) -> "numpy.ndarray":
    """The size bytes at offset, in this process's mapping (ValueError when they
    are not all in the heap)."""
    address = kind.address_of(offset)
    if size > 0 and kind.address_of(offset + size - 1) != address + size - 1:
        raise ValueError(f"{size} bytes at {offset} are not in the heap")
    return numpy.frombuffer(mkf.ffi.buffer(mkf.ffi.cast("char *", address), size), numpy.uint8)


def serve(kind: mkf.SharedKind) -> int:
    allocated = []  # disowned arrays: the mapping stays while they live
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        command, args = words[0], [int(w) for w in words[1:]]
        if command == "check":
            offset, size, seed = args
            wrong = numpy.flatnonzero(at(kind, offset, size) != pattern(seed, size))
            print("ok" if wrong.size == 0 else f"bad {wrong[0]}", flush=True)
        elif command == "fill":
            offset, size, seed = args
            at(kind, offset, size)[:] = pattern(seed, size)
            print("ok", flush=True)
        elif command == "alloc":
            size, seed = args
            block = kind.empty(size, dtype=numpy.uint8).disown()
            block[:] = pattern(seed, size)
            allocated.append(block)
            print(f"offset {block.shared_offset}", flush=True)
        elif command == "free":
            (offset,) = args
            address = kind.address_of(offset)
            mkf.lib.memkind_free(mkf.ffi.NULL, mkf.ffi.cast("void *", address))
            print("ok", flush=True)
        elif command == "stats":
            kind.purge()  # takes in the blocks other processes freed
            s = kind.stats()
            print(f"processes {s.processes} remote_frees {s.remote_frees} "
                  f"process_allocated {s.process_allocated}", flush=True)
        elif command == "quit":
            del allocated[:]
            kind.close()  # detaches, and unlinks the name when this process created it
            print("bye", flush=True)
            return 0
        else:
            print(f"error unknown command: {line}", end="", flush=True)
            return 1
    return 1


def main() -> int:
    args = sys.argv[1:]
    try:
        if len(args) == 3 and args[0] == "create":
            kind = mkf.SharedKind.create(int(args[2]), name=args[1])
        elif len(args) == 2 and args[0] == "attach":
            kind = mkf.SharedKind.attach(args[1])
        else:
            print("usage: shared_peer.py create NAME SIZE | attach NAME", file=sys.stderr)
            return 2
        return serve(kind)
    except (mkf.MemkindError, ValueError) as e:
        print(f"error {e}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
