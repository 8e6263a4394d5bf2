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
    # Only the kind's own allocation functions make an Allocation. A second owner of
    # a live block would free it twice when dropped (issue 12, item 10: that crashed
    # the interpreter), so no Python-level way to build one may exist.
    with pytest.raises(TypeError):
        mkf.Allocation()
    with pytest.raises(TypeError):
        mkf.Allocation(None, 0, 0, 8)
    with pytest.raises(TypeError):
        mkf._native.Block()
    with pytest.raises(TypeError):
        object.__new__(mkf.Allocation)

    class Sub(mkf.Allocation):
        def __new__(cls):
            return object.__new__(cls)

    with pytest.raises(TypeError):
        Sub()


def test_allocation_cannot_be_copied(kind):
    import copy
    import pickle
    a = kind.malloc(64)
    with pytest.raises(TypeError):
        copy.copy(a)
    with pytest.raises(TypeError):
        pickle.dumps(a)
    assert not a.released


def test_forging_an_allocation_is_refused_in_a_fresh_interpreter():
    # Issue 12, item 10, as reported, in a child interpreter: before the fix both
    # calls made an Allocation, and dropping them freed a live block a second time
    # and then "freed" an address that was never allocated (a crash).
    import os
    import subprocess
    import sys
    code = (
        "import memkind_fixed as mkf\n"
        "kind = mkf.FixedKind(size=1 << 20)\n"
        "a = kind.malloc(64)\n"
        "heap = kind._heap()\n"
        "for address in (a.address, kind.address + 4096 + 8):\n"
        "    try:\n"
        "        twin = mkf.Allocation(heap, heap.kind_address, address, 64)\n"
        "    except TypeError:\n"
        "        print('refused', flush=True)\n"
        "    else:\n"
        "        print('forged', flush=True)\n"
        "        del twin\n"
        "del a\n"
        "blocks = [kind.malloc(64) for _ in range(1000)]\n"
        "assert len({b.address for b in blocks}) == len(blocks)\n"
        "del blocks\n"
        "kind.close()\n"
        "print('alive')\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True)
    assert (result.returncode, result.stdout.splitlines()) == (
        0, ["refused", "refused", "alive"]), result.stderr
