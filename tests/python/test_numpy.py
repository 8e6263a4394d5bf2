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


# ------------------------------------------------ the constructors made in C (issue 24)

@pytest.mark.parametrize("fill, dtype", [
    (1.5, None), (7, None), (True, None), (2 + 1j, None), ("ab", None),
    (300, numpy.int16), (2.75, numpy.float32), (numpy.float32(3), None),
    ([1, 2, 3], None), ([[1.0], [2.0]], "f4"),
])
def test_full_is_numpy_full_in_the_region(kind, fill, dtype):
    shape = (2, 3)
    want = numpy.full(shape, fill, dtype=dtype)
    got = kind.full(shape, fill, dtype=dtype) if dtype is not None else kind.full(shape, fill)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert numpy.array_equal(got, want) and kind.contains(got)
    assert got.flags.c_contiguous and got.flags.owndata


def test_full_refuses_what_numpy_refuses(kind):
    with pytest.raises(OverflowError):
        numpy.full(3, 300, dtype=numpy.int8)
    with pytest.raises(OverflowError):
        kind.full(3, 300, dtype=numpy.int8)
    with pytest.raises(TypeError, match="Python objects"):
        kind.full(3, None)
    with pytest.raises(ValueError):
        kind.full(3, [1, 2])  # does not broadcast to (3,)


def test_arrays_own_their_data_through_the_kinds_handler():
    kind = mkf.FixedKind(size=1 << 20)
    ref = weakref.ref(kind._heap())
    arrays = [kind.empty(10), kind.zeros((2, 2)), kind.full(3, 1.0), kind.array([1, 2])]
    for arr in arrays:
        assert arr.flags.owndata and arr.base is None
        assert get_handler_name(arr) == "memkind_fixed" and kind.contains(arr)
    del arr
    kind.close()
    gc.collect()
    assert ref() is not None  # each array holds the handler, which holds the kind
    arrays.pop()
    gc.collect()
    assert ref() is not None and arrays[2].tolist() == [1.0] * 3
    del arrays
    gc.collect()
    assert ref() is None


def test_zeros_on_reused_memory_is_zero(kind):
    for _ in range(3):
        dirty = kind.empty(4096)
        dirty[:] = 12345.0
        address = dirty.ctypes.data
        del dirty
        clean = kind.zeros(4096)
        assert not clean.any()
        reused = clean.ctypes.data == address
        del clean
    assert reused  # the block really was the dirty one


def test_shapes_and_dtypes_as_numpy_takes_them(kind):
    assert kind.zeros(numpy.int64(3)).shape == (3,)
    assert kind.zeros([2, 3]).shape == (2, 3)
    assert kind.empty((2, numpy.uint8(4)), dtype="i2").shape == (2, 4)
    assert kind.zeros((), dtype=numpy.float32).shape == ()
    assert kind.empty(3, numpy.dtype("<u2")).dtype == numpy.dtype("<u2")
    assert kind.zeros(3, dtype=None).dtype == numpy.float64
    with pytest.raises(TypeError):
        kind.zeros(3.0)
    with pytest.raises(TypeError):
        kind.zeros((2, True))
    with pytest.raises(TypeError, match="unexpected keyword"):
        kind.zeros(3, order="F")
    with pytest.raises(TypeError):
        kind.zeros(3, dtype="no such type")


def test_array_copies_and_converts(kind):
    src = numpy.arange(12.5, step=0.5).reshape(5, 5)
    for got, want in [(kind.array(src), src), (kind.array(src, dtype="i4"), src.astype("i4")),
                      (kind.array(range(100)), numpy.array(range(100))),
                      (kind.array(src.T), src.T), (kind.array(7), numpy.array(7)),
                      (kind.array([[1, 2], [3, 4]], numpy.uint8),
                       numpy.array([[1, 2], [3, 4]], numpy.uint8))]:
        assert got.dtype == want.dtype and numpy.array_equal(got, want)
        assert kind.contains(got) and got.flags.c_contiguous
        assert got.size == 0 or got.ctypes.data != want.ctypes.data
    with pytest.raises(TypeError, match="Python objects"):
        kind.array([object()])


def test_large_arrays_release_the_gil_and_land_in_the_region():
    with mkf.FixedKind(size=64 << 20) as kind:
        big = kind.zeros(1 << 20)  # 8 MiB
        assert kind.contains(big) and not big.any()
        big = kind.full(1 << 20, 2.0)
        assert float(big.sum()) == 2.0 * (1 << 20)


def test_calloc_fast_and_checked_paths(kind):
    a = kind.calloc(3, 8)
    assert bytes(a) == bytes(24) and kind.contains(a)
    b = kind.calloc(numpy.int32(2), 4)  # any integer, through the checked path
    assert len(b) == 8
    with pytest.raises(TypeError):
        kind.calloc(True, 8)
    with pytest.raises(ValueError):
        kind.calloc(-1, 8)
    with pytest.raises(mkf.OutOfMemoryError):
        kind.calloc(1 << 40, 1 << 40)
    with pytest.raises(TypeError):
        kind.calloc(1)
    with pytest.raises(mkf.OutOfMemoryError):
        kind.calloc(1, 64 << 20)  # more than the region
