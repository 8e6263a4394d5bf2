"""Smoke test of an installed memkind_fixed, run by tests/packaging/python.sh.

    smoke.py VENV [--bundled-numa]

Run from outside the repository with VENV's python; also checked with
`mypy --strict`, where the assert_type lines fail unless empty/zeros/full/array return
numpy.typing.NDArray types (Any would not match), and SharedKind's SharedArrays.
Exits non-zero on any failure and prints one line of figures.
"""

import os
import sys
from typing import Any, assert_type

import numpy
import numpy.typing as npt

import memkind_fixed as mkf


def main() -> None:
    venv = os.path.realpath(sys.argv[1])
    # The package must come from the venv, not from a checkout on sys.path.
    where = os.path.realpath(mkf.__file__)
    assert where.startswith(venv + os.sep), f"memkind_fixed imported from {where}"

    with mkf.FixedKind(size=32 << 20) as kind:
        start, end = kind.address, kind.address + kind.size

        block = kind.malloc(4096)
        assert start <= block.address and block.address + len(block) <= end
        memoryview(block)[:5] = b"hello"
        assert bytes(block)[:5] == b"hello"

        table = kind.zeros((1000, 3))
        assert_type(table, npt.NDArray[numpy.float64])
        data = int(table.__array_interface__["data"][0])
        assert start <= data and data + table.nbytes <= end, (hex(data), hex(start))
        assert table.shape == (1000, 3) and float(table.sum()) == 0.0

        ints = kind.array([1, 2, 3], dtype=numpy.int32)
        assert_type(ints, npt.NDArray[numpy.int32])
        assert int(ints.sum()) == 6 and kind.contains(ints)
        raw = kind.empty(100, dtype="u1")
        assert_type(raw, npt.NDArray[Any])
        assert kind.contains(raw)
        halves = kind.full((4, 4), 0.5)
        assert_type(halves, npt.NDArray[Any])
        small = kind.full(3, 7, dtype=numpy.int16)
        assert_type(small, npt.NDArray[numpy.int16])
        assert kind.contains(halves) and float(halves.sum()) == 8.0 and int(small.sum()) == 21

        with mkf.numpy_allocator(kind):
            ones = numpy.ones(10_000)
        assert kind.contains(ones) and float(ones.sum()) == 10_000.0

        stats = kind.stats()
        assert stats.allocated >= 4096 + table.nbytes + ones.nbytes, stats
        assert stats.used <= stats.capacity <= kind.size and stats.failed_allocs == 0, stats

    with mkf.SharedKind.create(4 << 20) as shared:
        handles = shared.zeros(8)
        assert_type(handles, mkf.SharedArray[numpy.dtype[numpy.float64]])
        counts = shared.array([1, 2, 3], dtype=numpy.int64)
        assert_type(counts, mkf.SharedArray[numpy.dtype[numpy.int64]])
        assert isinstance(handles, mkf.SharedArray) and shared.contains(counts)
        assert int(counts.sum()) == 6 and not handles.any()
        del handles, counts

    if "--bundled-numa" in sys.argv[2:]:
        # auditwheel's copy of libnuma, next to the package, is the one loaded.
        with open("/proc/self/maps") as maps:
            numa = {line.split()[-1] for line in maps if "libnuma" in line}
        assert numa and all("memkind_fixed.libs" in path for path in numa), numa

    print(f"smoke: memkind_fixed {mkf.__version__} from {os.path.dirname(where)}: "
          f"block at +{block.address - start:#x}, array data at +{data - start:#x} "
          f"of a {(end - start) >> 20} MiB region; used {stats.used} B, "
          f"allocated {stats.allocated} B, failed {stats.failed_allocs}")


if __name__ == "__main__":
    main()
