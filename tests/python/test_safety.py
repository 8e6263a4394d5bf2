"""Memory safety: no access to freed memory or to a destroyed region through the API."""

import gc
import weakref

import pytest

import memkind_fixed as mkf


def heap_ref(kind):
    """A weak reference to the object that owns the C kind and its region."""
    return weakref.ref(kind._heap())


def test_release_while_exported_raises(kind):
    a = kind.malloc(64)
    view = memoryview(a)
    assert a.exports == 1
    with pytest.raises(BufferError, match="exported"):
        a.release()
    with pytest.raises(BufferError):
        kind.free(a)
    with pytest.raises(BufferError):
        kind.realloc(a, 128)
    view[:4] = b"safe"  # still valid
    assert not a.released
    view.release()
    assert a.exports == 0
    a.release()
    assert a.released


def test_nested_exports_are_counted(kind):
    a = kind.malloc(64)
    v1 = memoryview(a)
    v2 = memoryview(a)[8:16]  # the slice keeps the export of its (temporary) parent
    assert a.exports == 2
    del v1
    with pytest.raises(BufferError):
        a.release()
    v2.release()
    a.release()


def test_numpy_view_blocks_release(kind):
    numpy = pytest.importorskip("numpy")
    a = kind.malloc(800)
    arr = numpy.frombuffer(a, dtype=numpy.float64)
    arr[:] = 1.5
    with pytest.raises(BufferError):
        a.release()
    derived = arr[10:20]
    del arr
    with pytest.raises(BufferError):
        kind.free(a)  # the slice still holds the export
    assert derived.sum() == 15.0
    del derived
    a.release()


def test_use_after_release_raises(kind):
    a = kind.malloc(64)
    a.release()
    with pytest.raises(ValueError):
        memoryview(a)
    with pytest.raises(ValueError):
        bytes(a)
    with pytest.raises(ValueError):
        a.address
    with pytest.raises(ValueError):
        kind.usable_size(a)
    with pytest.raises(ValueError):
        kind.realloc(a, 10)
    with pytest.raises(ValueError):
        kind.contains(a)
    assert len(a) == 0


def test_use_after_close_raises():
    kind = mkf.FixedKind(size=1 << 20)
    kind.close()
    assert kind.closed
    assert repr(kind) == "<memkind_fixed.FixedKind closed>"
    for call in (lambda: kind.malloc(8), lambda: kind.calloc(1, 8), lambda: kind.memalign(64, 8),
                 lambda: kind.stats(), lambda: kind.purge(), lambda: kind.size,
                 lambda: kind.capacity, lambda: kind.contains(0), lambda: kind.zeros(3)):
        with pytest.raises(ValueError, match="closed"):
            call()
    kind.close()  # idempotent
    with pytest.raises(ValueError):
        with kind:
            pass


def test_close_with_live_allocations_defers_destruction():
    kind = mkf.FixedKind(size=1 << 20)
    ref = heap_ref(kind)
    a = kind.malloc(4096)
    b = kind.calloc(1, 100)
    memoryview(a)[:5] = b"alive"
    kind.close()
    gc.collect()
    assert ref() is not None  # the region lives on for a and b
    assert bytes(a)[:5] == b"alive"
    memoryview(b)[:2] = b"ok"
    assert bytes(b)[:2] == b"ok"
    with pytest.raises(ValueError):
        kind.free(a)  # the kind itself is closed ...
    a.release()  # ... but its allocations still release themselves
    assert ref() is not None
    del b
    assert ref() is None  # last allocation gone: kind destroyed, region unmapped


def test_destroyed_right_away_without_allocations():
    kind = mkf.FixedKind(size=1 << 20)
    ref = heap_ref(kind)
    kind.malloc(100).release()
    kind.close()
    assert ref() is None


def test_realloc_result_keeps_the_kind_alive():
    kind = mkf.FixedKind(size=1 << 20)
    ref = heap_ref(kind)
    a = kind.malloc(10)
    c = kind.realloc(a, 20000)
    kind.close()
    del a
    assert ref() is not None
    memoryview(c)[-1] = 1
    del c
    assert ref() is None


def test_views_keep_allocations_alive(kind):
    view = memoryview(kind.malloc(64))  # the allocation has no other reference
    view[:] = b"v" * 64
    gc.collect()
    assert bytes(view) == b"v" * 64
    assert kind.stats().allocated > 0


def test_allocation_cannot_be_forged():
    with pytest.raises(TypeError):
        mkf.Allocation()
    with pytest.raises(ValueError):
        mkf.Allocation(None, 0, 0, 8)
