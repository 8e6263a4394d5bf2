"""SharedKind: one heap in a shared segment, numpy arrays handed to other processes
as handles (issue 14, acceptance item 2)."""

import concurrent.futures
import multiprocessing
import os
import pickle

import pytest

import memkind_fixed as mkf

numpy = pytest.importorskip("numpy")

ARRAYS = 10_000
BATCH = 500
ITEMS = (64 << 10) // 8  # 64 KiB of float64


def _ours():
    """Our segments in /dev/shm: this process's, and those whose process is gone
    (a crashed child's). Other runs' live processes (Bazel runs test files side
    by side, and test_docs_examples makes segments too) are not ours."""
    prefix = mkf.SHM_PREFIX.lstrip("/")
    found = set()
    for entry in os.listdir("/dev/shm"):
        pid = entry[len(prefix):].split("-", 1)[0]
        if not entry.startswith(prefix) or not pid.isdigit():
            continue
        if int(pid) == os.getpid():
            found.add(entry)
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            found.add(entry)
        except PermissionError:
            pass
    return found


@pytest.fixture(autouse=True)
def no_leftovers():
    before = _ours()
    yield
    assert _ours() - before == set()


def _sum_and_free(arrays):
    """In the worker: sum each array, check its data lies in this process's mapping,
    free it."""
    sums, inside = [], True
    for a in arrays:
        k = a.shared_kind  # this process's one attachment, made by unpickling
        inside &= k.contains(a) and isinstance(a, mkf.SharedArray) and not a.flags.owndata
        sums.append(float(a.sum()))
        k.free_array(a)
    return os.getpid(), sums, inside


def test_pickle_round_trip_in_process():
    with mkf.SharedKind.create(4 << 20) as kind:
        a = kind.zeros((3, 4), dtype="int32")
        a[...] = numpy.arange(12).reshape(3, 4)
        assert isinstance(a, mkf.SharedArray) and kind.contains(a)
        b = pickle.loads(pickle.dumps(a[:, 1::2]))
        assert b.ctypes.data == a[:, 1::2].ctypes.data  # same process: same mapping
        assert (b == a[:, 1::2]).all() and b.strides == a[:, 1::2].strides
        k2 = pickle.loads(pickle.dumps(kind))
        assert k2 is kind
        assert kind.address_of(kind.offset(a)) == a.ctypes.data == kind.address_of(
            a.shared_offset)
        c = a + 1  # not in the heap: pickles by copy
        assert (pickle.loads(pickle.dumps(c)) == c).all()


def test_pickle_keeps_dtype_and_layout():
    # Plain dtypes travel as their string, others (records, byte order) as dtypes.
    with mkf.SharedKind.create(4 << 20) as kind:
        rec = numpy.dtype([("x", "<i4"), ("y", "<f8")])
        for dt in ("float64", ">i2", rec, "M8[ns]", "complex64"):
            a = kind.zeros((4, 6), dtype=dt)
            a.view(numpy.uint8)[...] = numpy.arange(a.nbytes, dtype=numpy.uint8).reshape(
                a.view(numpy.uint8).shape)
            for v in (a, a[1:, ::-2], a.T):
                b = pickle.loads(pickle.dumps(v))
                assert type(b) is mkf.SharedArray and b.dtype == v.dtype
                assert b.shape == v.shape and b.strides == v.strides
                assert b.ctypes.data == v.ctypes.data and b.tobytes() == v.tobytes()
                assert not b.flags.owndata and b.flags.writeable


def test_forged_handle_is_refused():
    with mkf.SharedKind.create(4 << 20) as kind:
        a = kind.zeros(16)
        fn, args = a.__reduce__()
        name, offset, nbytes = args[:3]
        with pytest.raises(ValueError, match="not in the shared heap"):
            fn(name, offset + (64 << 20), *args[2:])
        with pytest.raises(ValueError, match="not in the shared heap"):
            fn(name, 0, *args[2:])
        with pytest.raises((ValueError, TypeError)):  # numpy: beyond the block
            fn(name, offset, nbytes, 8, (16,), "<f8", (8,))
        with pytest.raises(TypeError):
            mkf._native.SharedBlock()
        with pytest.raises(ValueError, match="not in this shared heap"):
            kind._shared_view(kind.address + kind.size - 8, 16)
        # The block under an array is freed by free_array only: release() or
        # kind.free() would also let the mapping go under the array's views.
        with pytest.raises(TypeError):
            a.base.release()
        with pytest.raises(TypeError):
            kind.free(a.base)
        a[:] = 7.0
        assert a.sum() == 7.0 * 16


def test_disown_adopt_free_array_in_process():
    # Whether a block was freed shows in where the next one of its size goes: the
    # thread cache hands the last freed block out first.
    with mkf.SharedKind.create(4 << 20) as kind:
        a = kind.zeros(1000)
        address = a.ctypes.data
        a.disown()
        view = pickle.loads(pickle.dumps(a[10:20]))  # a receiver's view
        del a
        b = kind.zeros(1000)
        assert b.ctypes.data != address  # disowned: not freed with its last array
        kind.adopt(view)
        del view
        c = kind.zeros(1000)
        assert c.ctypes.data == address  # the adopter's last array freed it
        kind.free_array(c[5:])  # now, whatever views remain
        d = kind.zeros(1000)
        assert d.ctypes.data == address
        with pytest.raises(ValueError, match="freed already"):
            kind.free_array(c)
        del c  # not freed a second time
        e = kind.zeros(1000)
        assert e.ctypes.data not in (address, b.ctypes.data)
        with mkf.SharedKind.create(1 << 20) as other:
            f = other.zeros(4)
            with pytest.raises(ValueError, match="not an array of a block of this"):
                kind.free_array(f)
        with pytest.raises(ValueError, match="not an array of a block of this"):
            kind.free_array(numpy.zeros(4))


def test_views_keep_the_mapping_after_close():
    kind = mkf.SharedKind.create(4 << 20)
    a = kind.array(numpy.arange(100.0))
    v = a[50:]
    kind.close()
    del a
    import gc
    gc.collect()
    assert v.sum() == sum(range(50, 100))  # the block and the mapping are still there
    v[0] = -1.0
    assert v[0] == -1.0
    del v


def _drop_inherited(conn):
    global _INHERITED
    del _INHERITED  # the fork child's copy of the parent's owned array
    import gc
    gc.collect()
    conn.send("dropped")


def test_fork_child_does_not_free_the_parents_blocks():
    global _INHERITED
    ctx = multiprocessing.get_context("fork")
    with mkf.SharedKind.create(4 << 20) as kind:
        _INHERITED = kind.array(numpy.arange(512.0))
        receiver, sender = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_drop_inherited, args=(sender,))
        p.start()
        assert receiver.poll(60) and receiver.recv() == "dropped"
        p.join(60)
        assert p.exitcode == 0
        st = kind.stats()
        assert st.remote_frees == 0, st  # the child freed nothing of ours
        assert (_INHERITED == numpy.arange(512.0)).all()
        del _INHERITED


def test_numpy_allocator_on_shared_kind():
    with mkf.SharedKind.create(4 << 20) as kind:
        with mkf.numpy_allocator(kind) as handler:
            x = numpy.ones(1000)
        assert kind.contains(x) and handler.live_blocks == 1
        del x
        assert handler.live_blocks == 0


def _attach_and_write(name, offset):
    kind = mkf.SharedKind.attach(name)
    view = mkf.ffi.cast("double *", kind.address_of(offset))
    view[0] = 42.0
    kind.close()


def test_attach_by_name_from_another_process():
    ctx = multiprocessing.get_context("spawn")
    with mkf.SharedKind.create(4 << 20) as kind:
        a = kind.zeros(8)
        p = ctx.Process(target=_attach_and_write, args=(kind.name, kind.offset(a)))
        p.start()
        p.join(60)
        assert p.exitcode == 0 and a[0] == 42.0


def _sum_view(a):
    return float(a.sum()), a.ctypes.data


def test_fork_context():
    ctx = multiprocessing.get_context("fork")
    with mkf.SharedKind.create(4 << 20) as kind:
        a = kind.array(numpy.arange(1000.0))
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
            total, address = pool.submit(_sum_view, a).result()
        assert total == a.sum() and address == a.ctypes.data  # fork: same mapping


def _minor_faults():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _sum_counting_faults(arrays):
    before = _minor_faults()
    sums = [float(a.sum()) for a in arrays]
    return sums, _minor_faults() - before


def test_reused_pages_do_not_fault_again():
    # A freed block's pages stay in the segment and in every process's page
    # tables (a shared kind gives no page back to the system), and first fit puts
    # the next blocks on them: after the first round, neither the parent filling
    # arrays nor a worker reading them takes a page fault. (Were freed pages
    # given back, the parent would fault on each 4 KiB page it writes, the worker
    # on each run of pages it reads.)
    count, n = 64 << 10 >> 3, 64
    ctx = multiprocessing.get_context("spawn")
    with mkf.SharedKind.create(16 << 20) as kind, \
            concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        faults = []
        addresses = []
        for rnd in range(2):
            arrays = [kind.empty(count) for _ in range(n)]
            before = _minor_faults()
            for i, a in enumerate(arrays):
                a.fill(float(i))
            filled = _minor_faults() - before
            sums, read = pool.submit(_sum_counting_faults, arrays).result()
            assert sums == [float(i) * count for i in range(n)]
            faults.append((filled, read))
            addresses.append(sorted(a.ctypes.data for a in arrays))
            del arrays, a
        assert addresses[1] == addresses[0]  # the same pages again
        # First round: the pages were in no process's page tables yet.
        assert faults[0][0] >= n * 16 and faults[0][1] >= n
        # Second round: a few faults at most (Python's own memory), not one per
        # array.
        assert faults[1][0] < n // 2 and faults[1][1] < n // 2, faults


def _create_and_crash(conn):
    kind = mkf.SharedKind.create(1 << 20)
    conn.send(kind.name)  # synchronous, unlike a Queue's feeder thread
    os._exit(3)


def test_worker_crash_then_cleanup():
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_create_and_crash, args=(sender,))
    p.start()
    assert receiver.poll(60)
    name = receiver.recv()
    p.join(60)
    assert p.exitcode == 3
    assert name.lstrip("/") in _ours()
    assert name in mkf.shared_cleanup()
    assert name.lstrip("/") not in _ours()


def test_spawn_pool_10000_arrays():
    ctx = multiprocessing.get_context("spawn")
    with mkf.SharedKind.create(ARRAYS * (64 << 10) + (64 << 20)) as kind:
        batches, expected = [], []
        for start in range(0, ARRAYS, BATCH):
            batch = []
            for i in range(start, min(start + BATCH, ARRAYS)):
                a = kind.empty(ITEMS)
                a.fill(i % 97)
                a[0] = i
                expected.append(float(a.sum()))
                batch.append(a.disown())  # the worker frees it
            batches.append(batch)
        assert kind.stats().heap_used >= ARRAYS * (64 << 10)
        with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as pool:
            results = list(pool.map(_sum_and_free, batches))
        sums = [s for _, batch_sums, _ in results for s in batch_sums]
        assert sums == expected
        assert all(inside for _, _, inside in results)
        assert os.getpid() not in {pid for pid, _, _ in results}
        del batches, batch, a
        kind.purge()
        st = kind.stats()
        assert st.heap_used < 8 << 20, st  # the 640 MiB of blocks went back


def _temporary_array(name):
    """A worker's task: attach, use a temporary array, return its sum."""
    kind = mkf.SharedKind.attach(name)
    a = kind.zeros(1 << 14)
    a += 1
    total = float(a.sum())
    del a
    return total


def test_pool_with_a_worker_per_task_never_fills_the_slots():
    # Issue 25: each worker held its slot after exit until the 64th broke the
    # pool (BrokenProcessPool / MEMKIND_ERROR_SHARED_FULL). Now a worker gives its
    # pages back at exit and its slot is free once it is gone.
    ctx = multiprocessing.get_context("spawn")
    with mkf.SharedKind.create(64 << 20) as kind:
        with concurrent.futures.ProcessPoolExecutor(
                2, mp_context=ctx, max_tasks_per_child=1) as pool:
            sums = list(pool.map(_temporary_array, [kind.name] * 70))
        assert sums == [float(1 << 14)] * 70
        st = kind.stats()
        assert st.processes == 1, st
        assert st.dead_processes == 0, st
        assert st.heap_used == st.used, st  # only this process holds pages


def test_constructors_make_shared_arrays_that_pickle_as_handles():
    with mkf.SharedKind.create(4 << 20) as kind:
        made = [kind.empty(5), kind.zeros((2, 3), "i4"), kind.full(4, 2.5),
                kind.array([[1, 2], [3, 4]], dtype="u2")]
        for arr in made:
            assert type(arr) is mkf.SharedArray and kind.contains(arr)
            assert type(arr.base) is mkf._native.SharedBlock and arr.base.pid == os.getpid()
            copy = pickle.loads(pickle.dumps(arr))
            assert copy.ctypes.data == arr.ctypes.data and copy.dtype == arr.dtype
        assert made[2].tolist() == [2.5] * 4 and not made[1].any()
        assert made[3].dtype == numpy.uint16 and made[3].sum() == 10
        with pytest.raises(TypeError):
            made[0].base.release()  # only free_array frees a SharedArray's block
