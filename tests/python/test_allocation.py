"""The heap functions of FixedKind and what an Allocation exposes."""

import ctypes
import errno

import pytest

import memkind_fixed as mkf


def in_region(kind, a):
    return kind.address <= a.address and a.address + len(a) <= kind.address + kind.size


def test_malloc_gives_writable_bytes_inside_the_region(kind):
    a = kind.malloc(64)
    assert len(a) == 64
    assert a.size == 64
    assert in_region(kind, a)
    assert a.address % 16 == 0
    view = memoryview(a)
    assert (view.nbytes, view.readonly, view.format, view.ndim) == (64, False, "B", 1)
    view[:] = bytes(range(64))
    view.release()
    assert bytes(a) == bytes(range(64))
    # The bytes really are at a.address.
    assert ctypes.string_at(a.address, 64) == bytes(range(64))


def test_allocations_do_not_overlap(kind):
    blocks = [kind.malloc(100) for _ in range(50)]
    spans = sorted((b.address, b.address + len(b)) for b in blocks)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end <= start
    for i, b in enumerate(blocks):
        memoryview(b)[:] = bytes([i]) * 100
    for i, b in enumerate(blocks):
        assert bytes(b) == bytes([i]) * 100


def test_calloc_is_zeroed_even_for_reused_memory(kind):
    dirty = kind.malloc(8192)
    memoryview(dirty)[:] = b"\xff" * 8192
    address = dirty.address
    dirty.release()
    seen_reuse = False
    for _ in range(4):
        b = kind.calloc(1024, 8)
        assert len(b) == 8192
        assert bytes(b) == bytes(8192)
        seen_reuse |= b.address == address
        memoryview(b)[:] = b"\xff" * 8192
        b.release()
    assert seen_reuse  # the dirty block was handed out again, and came back zeroed
    assert bytes(kind.calloc(10, 8)) == bytes(80)


def test_realloc_keeps_contents_and_retires_the_old_allocation(kind):
    a = kind.malloc(64)
    memoryview(a)[:] = bytes(range(64))
    c = kind.realloc(a, 4096)
    assert a.released and len(a) == 0
    with pytest.raises(ValueError):
        a.address
    with pytest.raises(ValueError):
        memoryview(a)
    assert len(c) == 4096
    assert bytes(c)[:64] == bytes(range(64))
    assert in_region(kind, c)
    smaller = kind.realloc(c, 10)
    assert bytes(smaller) == bytes(range(10))
    assert c.released


def test_realloc_to_zero_gives_an_empty_block(kind):
    a = kind.malloc(32)
    z = kind.realloc(a, 0)
    assert len(z) == 0 and bytes(z) == b""
    assert kind.contains(z)


def test_memalign_aligns(kind):
    for alignment in (8, 16, 64, 4096, 65536):
        d = kind.memalign(alignment, 8192)
        assert d.address % alignment == 0
        assert len(d) == 8192
        assert in_region(kind, d)
        memoryview(d)[-1] = 7
        assert bytes(d)[-1] == 7


def test_zero_sized_allocations_are_distinct_blocks(kind):
    a, b = kind.malloc(0), kind.malloc(0)
    assert len(a) == len(b) == 0
    assert a.address != b.address
    assert bytes(a) == b""
    assert kind.contains(a)
    assert len(kind.calloc(0, 8)) == 0
    assert len(kind.memalign(64, 0)) == 0


def test_usable_size(kind):
    a = kind.malloc(100)
    assert kind.usable_size(a) >= 100
    assert kind.usable_size(kind.malloc(4096)) == 4096
    assert len(a) == 100  # the buffer exposes what was asked


def test_free_and_release(kind):
    # large enough to bypass the thread cache, whose blocks count as allocated
    a = kind.malloc(1 << 20)
    before = kind.stats().allocated
    kind.free(a)
    assert a.released
    assert kind.stats().allocated < before
    kind.free(a)  # releasing twice is harmless
    a.release()
    with kind.malloc(10) as b:
        memoryview(b)[0] = 1
    assert b.released


def test_collected_allocations_are_freed(kind):
    baseline = kind.stats().allocated
    a = kind.malloc(1 << 20)
    assert kind.stats().allocated >= baseline + (1 << 20)
    del a
    assert kind.stats().allocated < baseline + (1 << 20)


def test_contains(kind):
    a = kind.malloc(64)
    assert kind.contains(a)
    assert kind.contains(a.address)
    assert kind.contains(memoryview(a))
    assert not kind.contains(bytearray(64))
    assert not kind.contains(kind.address + kind.size)
    assert kind.contains(kind.address + kind.size - 1)
    with mkf.FixedKind(size=1 << 20) as other:
        b = other.malloc(64)
        assert other.contains(b)
        assert not kind.contains(b)
        with pytest.raises(ValueError, match="another kind"):
            kind.free(b)
        with pytest.raises(ValueError, match="another kind"):
            kind.realloc(b, 10)
        with pytest.raises(ValueError, match="another kind"):
            kind.usable_size(b)


def test_stats_follow_allocations(kind):
    s0 = kind.stats()
    assert isinstance(s0, mkf.KindStats)
    assert s0.capacity == 4 << 20 == kind.capacity
    assert s0.regions == 1
    assert s0.used + s0.free == s0.capacity
    assert s0.allocated == 0
    blocks = [kind.malloc(64 << 10) for _ in range(8)]
    s1 = kind.stats()
    assert s1.allocated >= 8 * (64 << 10)
    assert s1.used >= s1.allocated
    assert s1.peak_used >= s1.used
    assert s1.free == s1.capacity - s1.used
    assert s1.largest_free <= s1.free
    assert s0.resident <= s1.resident <= s1.capacity
    del blocks
    kind.purge()
    s2 = kind.stats()
    assert s2.allocated < s1.allocated
    assert s2.peak_used >= s1.used


def test_exhaustion_raises_out_of_memory_and_the_kind_recovers():
    with mkf.FixedKind(size=1 << 20) as kind:
        blocks = []
        with pytest.raises(mkf.OutOfMemoryError) as info:
            for _ in range(1000):
                blocks.append(kind.malloc(64 << 10))
        assert 4 <= len(blocks) <= 16
        e = info.value
        assert isinstance(e, MemoryError) and isinstance(e, mkf.MemkindError)
        assert e.code == errno.ENOMEM
        assert e.message == mkf.error_message(errno.ENOMEM)
        assert "malloc(65536)" in str(e)
        assert kind.stats().failed_allocs >= 1
        with pytest.raises(mkf.OutOfMemoryError):
            kind.malloc(2 << 20)  # larger than the region
        with pytest.raises(mkf.OutOfMemoryError):
            kind.calloc(1 << 20, 1 << 20)
        with pytest.raises(mkf.OutOfMemoryError):
            kind.memalign(4096, 2 << 20)
        # realloc failing leaves the block as it was
        keep = blocks[0]
        memoryview(keep)[:4] = b"keep"
        with pytest.raises(mkf.OutOfMemoryError):
            kind.realloc(keep, 4 << 20)
        assert not keep.released and bytes(keep)[:4] == b"keep"
        # after freeing everything the whole region serves a large block again
        count = len(blocks)
        for b in blocks:
            kind.free(b)
        del blocks, keep
        big = kind.malloc(768 << 10)
        assert len(big) == 768 << 10
        big.release()
        again = [kind.malloc(64 << 10) for _ in range(count)]
        assert all(kind.contains(b) for b in again)


@pytest.mark.parametrize("call", [
    lambda k: k.malloc(-1),
    lambda k: k.calloc(-1, 8),
    lambda k: k.calloc(8, -1),
    lambda k: k.memalign(64, -5),
    lambda k: k.memalign(3, 64),
    lambda k: k.memalign(48, 64),
    lambda k: k.memalign(4, 64),
    lambda k: k.memalign(0, 64),
    lambda k: k.realloc(k.malloc(8), -1),
])
def test_bad_values_raise_value_error(kind, call):
    with pytest.raises(ValueError):
        call(kind)


@pytest.mark.parametrize("call", [
    lambda k: k.malloc(1.5),
    lambda k: k.malloc("10"),
    lambda k: k.calloc(None, 8),
    lambda k: k.memalign(64.0, 8),
    lambda k: k.free(bytearray(8)),
    lambda k: k.realloc(memoryview(bytearray(8)), 8),
    lambda k: k.usable_size(0x1000),
])
def test_bad_types_raise_type_error(kind, call):
    with pytest.raises(TypeError):
        call(kind)


def test_repr(kind):
    a = kind.malloc(64)
    assert repr(a) == f"<memkind_fixed.Allocation size=64 address={a.address:#x}>"
    a.release()
    assert repr(a) == "<memkind_fixed.Allocation released>"
    assert repr(kind) == (f"<memkind_fixed.FixedKind size={4 << 20} "
                          f"address={kind.address:#x}-{kind.address + (4 << 20):#x}>")


def test_module_metadata():
    assert mkf.__version__ == "0.1.0"
    assert mkf.api_version() == 1014000
    assert mkf.error_message(mkf.lib.MEMKIND_ERROR_INVALID) != mkf.error_message(
        mkf.lib.MEMKIND_ERROR_HUGETLB)
    assert "Cannot allocate memory" in mkf.error_message(errno.ENOMEM)


def test_import_and_use_without_numpy():
    import os
    import subprocess
    import sys
    code = (
        "import sys; sys.modules['numpy'] = None\n"  # makes `import numpy` fail
        "import memkind_fixed as mkf\n"
        "with mkf.FixedKind(size=1 << 20) as k:\n"
        "    a = k.calloc(4, 4); assert bytes(a) == bytes(16)\n"
        "    try:\n"
        "        k.zeros(3)\n"
        "    except ImportError as e:\n"
        "        print('zeros:', e)\n"
        "    try:\n"
        "        with mkf.numpy_allocator(k): pass\n"
        "    except ImportError:\n"
        "        print('handler: ImportError')\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.splitlines() == ["zeros: FixedKind.empty/zeros/full/array need numpy",
                                "handler: ImportError"]


def test_small_blocks_exhaust_cleanly_and_count_each_failure_once():
    # 64 B requests take the C fast path of malloc(); its failure must raise the
    # same error as the checked path, count once, and leave the kind usable.
    with mkf.FixedKind(size=256 << 10) as kind:
        blocks = []
        with pytest.raises(mkf.OutOfMemoryError) as info:
            for _ in range(1 << 20):
                blocks.append(kind.malloc(64))
        assert info.value.code == errno.ENOMEM
        assert "malloc(64)" in str(info.value)
        assert info.value.__context__ is None
        assert kind.stats().failed_allocs == 1
        assert len(blocks) >= (256 << 10) // 64 * 9 // 10
        assert all(kind.contains(b) for b in blocks)
        for b in blocks[::2]:
            kind.free(b)
        again = [kind.malloc(64) for _ in range(len(blocks) // 2)]
        assert all(kind.contains(b) for b in again)


def test_malloc_argument_types_on_every_path(kind):
    class Size(int):
        pass

    assert len(kind.malloc(Size(3))) == 3      # not an exact int: the checked path
    assert len(kind.malloc(Size(20000))) == 20000
    with pytest.raises(TypeError, match="not bool"):
        kind.malloc(True)                      # a flag passed as a size is a bug
    assert len(kind.malloc(0)) == 0
    assert len(kind.malloc(16384)) == 16384    # the largest fast-path size
    assert len(kind.malloc(16385)) == 16385
    with pytest.raises(TypeError, match="must be an integer"):
        kind.malloc(64.0)
    with pytest.raises(ValueError, match="negative"):
        kind.malloc(-1)
    with pytest.raises(mkf.OutOfMemoryError):
        kind.malloc(1 << 70)
    with pytest.raises(TypeError, match="expected an Allocation, not bytearray"):
        kind.free(bytearray(8))
