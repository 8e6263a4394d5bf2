"""numpy arrays in a region: FixedKind.zeros/empty/array and numpy_allocator (NEP 49)."""

import gc
import threading
import weakref

import pytest

import memkind_fixed as mkf

numpy = pytest.importorskip("numpy")

try:
    from numpy._core.multiarray import get_handler_name
except ImportError:  # numpy < 2
    from numpy.core.multiarray import get_handler_name


def test_zeros_in_region(kind):
    arr = kind.zeros((1000, 3), dtype="float64")
    assert arr.shape == (1000, 3) and arr.dtype == numpy.float64
    assert arr.flags.c_contiguous and arr.flags.writeable
    assert not arr.any()
    assert kind.contains(arr)
    assert arr.ctypes.data % 16 == 0
    arr[:, 1] = numpy.arange(1000)
    assert arr[999, 1] == 999.0 and arr.sum() == 999 * 1000 / 2


@pytest.mark.parametrize("dtype", ["u1", "i4", "f4", "c16", "f8", [("a", "i4"), ("b", "f8")]])
def test_dtypes(kind, dtype):
    arr = kind.zeros(17, dtype=dtype)
    assert arr.shape == (17,)
    assert arr.nbytes == 17 * numpy.dtype(dtype).itemsize
    assert kind.contains(arr)
    assert arr.ctypes.data % numpy.dtype(dtype).alignment == 0
    assert bytes(arr.tobytes()) == bytes(arr.nbytes)


def test_empty_and_array(kind):
    e = kind.empty((4, 5), dtype=numpy.int32)
    assert e.shape == (4, 5) and kind.contains(e)
    src = numpy.arange(12).reshape(3, 4)
    copy = kind.array(src)
    assert kind.contains(copy)
    assert numpy.array_equal(copy, src) and copy.dtype == src.dtype
    assert copy.ctypes.data != src.ctypes.data
    converted = kind.array([1, 2, 3], dtype=numpy.float32)
    assert converted.dtype == numpy.float32 and converted.tolist() == [1.0, 2.0, 3.0]


def test_empty_shapes(kind):
    assert kind.zeros(0).shape == (0,)
    assert kind.zeros((3, 0)).size == 0
    with pytest.raises(ValueError):
        kind.zeros((-1, 3))
    with pytest.raises(TypeError):
        kind.zeros(2, dtype=object)


def test_zeros_exhaustion_is_out_of_memory():
    with mkf.FixedKind(size=1 << 20) as kind:
        with pytest.raises(mkf.OutOfMemoryError):
            kind.zeros((1 << 20,), dtype=numpy.float64)


def test_zeros_arrays_outlive_close_and_hold_the_kind():
    kind = mkf.FixedKind(size=1 << 20)
    ref = weakref.ref(kind._heap())
    arr = kind.zeros(1000)
    arr += 2
    kind.close()
    gc.collect()
    assert ref() is not None
    assert arr.sum() == 2000
    view = arr[::10]
    del arr
    assert ref() is not None and view.sum() == 200
    del view
    assert ref() is None


def test_handler_puts_new_arrays_in_the_region(kind):
    before = kind.stats().allocated
    with mkf.numpy_allocator(kind) as handler:
        assert isinstance(handler, mkf.NumpyHandler) and handler.kind is kind
        x = numpy.ones(10_000)
        y = numpy.arange(1000) * 2
        z = numpy.zeros((100, 100), dtype=numpy.int64)
        assert handler.live_blocks >= 3
    outside = numpy.ones(10_000)
    for arr in (x, y, z):
        assert kind.contains(arr)
        assert get_handler_name(arr) == mkf.handler_name == "memkind_fixed"
    assert not kind.contains(outside)
    assert get_handler_name(outside) != "memkind_fixed"
    assert x.sum() == 10_000 and y[-1] == 1998 and not z.any()
    assert kind.stats().allocated >= before + x.nbytes + z.nbytes
    live = handler.live_blocks
    del x
    assert handler.live_blocks == live - 1  # freed through the handler after the with
    del y, z, arr
    assert handler.live_blocks == 0


def test_handler_resize_goes_through_the_kind(kind):
    with mkf.numpy_allocator(kind):
        a = numpy.arange(10, dtype=numpy.int64)
    a.resize(100_000, refcheck=False)  # numpy reallocs through the array's handler
    assert kind.contains(a)
    assert a[:10].tolist() == list(range(10)) and a[10:].sum() == 0


def test_handler_arrays_outlive_the_with_and_the_kind():
    kind = mkf.FixedKind(size=4 << 20)
    ref = weakref.ref(kind._heap())
    with mkf.numpy_allocator(kind) as handler:
        arrays = [numpy.full(1000, i, dtype=numpy.float64) for i in range(10)]
    del handler
    kind.close()
    gc.collect()
    assert ref() is not None  # arrays hold the handler, the handler holds the kind
    for i, arr in enumerate(arrays):
        assert arr.sum() == 1000 * i
    arrays.pop()
    assert ref() is not None
    del arrays, arr
    gc.collect()
    assert ref() is None


def test_handler_on_closed_kind_raises():
    kind = mkf.FixedKind(size=1 << 20)
    kind.close()
    with pytest.raises(ValueError, match="closed"):
        with mkf.numpy_allocator(kind):
            pass


def test_handlers_nest_and_restore():
    with mkf.FixedKind(size=1 << 20) as outer_kind, mkf.FixedKind(size=1 << 20) as inner_kind:
        default_name = get_handler_name()
        with mkf.numpy_allocator(outer_kind):
            a = numpy.ones(100)
            with mkf.numpy_allocator(inner_kind):
                b = numpy.ones(100)
            c = numpy.ones(100)
        d = numpy.ones(100)
        assert outer_kind.contains(a) and outer_kind.contains(c)
        assert inner_kind.contains(b) and not outer_kind.contains(b)
        assert not outer_kind.contains(d) and not inner_kind.contains(d)
        assert get_handler_name() == default_name
        assert get_handler_name(d) == default_name


def test_handler_restored_after_an_exception(kind):
    default_name = get_handler_name()
    with pytest.raises(RuntimeError):
        with mkf.numpy_allocator(kind):
            raise RuntimeError("boom")
    assert get_handler_name() == default_name


def test_handler_is_per_thread(kind):
    seen = {}

    def other_thread():
        seen["other"] = kind.contains(numpy.ones(1000))

    with mkf.numpy_allocator(kind):
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        seen["here"] = kind.contains(numpy.ones(1000))
    assert seen == {"other": False, "here": True}


def test_handler_exhaustion_raises_memory_error_and_recovers():
    with mkf.FixedKind(size=1 << 20) as kind:
        with mkf.numpy_allocator(kind) as handler:
            with pytest.raises(MemoryError):
                numpy.ones(1 << 20)  # 8 MiB in a 1 MiB region
            keep = [numpy.ones(16384) for _ in range(4)]  # 4 x 128 KiB
            assert all(kind.contains(k) for k in keep)
            assert handler.live_blocks == 4
        assert kind.stats().failed_allocs >= 1


def test_handler_empty_arrays(kind):
    with mkf.numpy_allocator(kind) as handler:
        e = numpy.empty(0)
        f = numpy.zeros((0, 5))
    assert e.size == 0 and f.size == 0
    assert get_handler_name(e) == "memkind_fixed"
    del e, f
    assert handler.live_blocks == 0
