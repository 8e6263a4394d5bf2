"""SharedArrays between Dask workers (memkind_fixed.dask, issue 24): a LocalCluster of
two worker processes on 127.0.0.1. A worker that receives another's 64 MiB
SharedArray reads it in place (its data lies in its own mapping of the segment) and
its writes reach the sender; with the transport forced to bytes (what a worker on
another host gets) the bytes arrive intact in a plain numpy array; the sender (a
worker, or the client through scatter) keeps each array it lent until the
receiver's view is gone. Every wait is bounded."""

import os
import sys
import time

import pytest

numpy = pytest.importorskip("numpy")
distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")
cloudpickle = pytest.importorskip("cloudpickle")

import memkind_fixed as mkf  # noqa: E402
import memkind_fixed.dask as mkf_dask  # noqa: E402
from distributed.protocol import deserialize, serialize  # noqa: E402

# The workers are other processes: they get this module's functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

ITEMS = 8 << 20  # float64: 64 MiB
WAIT = 60        # seconds, at most, for any one result


@pytest.fixture(scope="module")
def cluster():
    """(client, sender worker, receiver worker), with a 256 MiB SharedKind that the
    test process created (the workers attach when a task brings it)."""
    # Spawned workers import memkind_fixed from where this process does.
    old_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    # No active memory manager: it may drop the sender's replica of a key, and the
    # sender would then fetch the receiver's (written) copy back.
    amm_off = dask.config.set({"distributed.scheduler.active-memory-manager.start": False})
    try:
        with amm_off, \
                distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                         host="127.0.0.1", protocol="tcp",
                                         dashboard_address=None, silence_logs=40) as lc, \
                distributed.Client(lc, timeout=WAIT) as client:
            client.wait_for_workers(2, timeout=WAIT)
            a, b = sorted(client.scheduler_info()["workers"])
            with mkf.SharedKind.create(256 << 20) as kind:
                yield client, a, b, kind
    finally:
        if old_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old_path


# --------------------------------------------------------------- run on the workers

def _ramp(kind, n):
    return kind.array(numpy.arange(n, dtype=numpy.float64))


def _segment_ranges(name):
    """[start, end) of this process's mappings of the segment `name`."""
    ranges = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5] == "/dev/shm" + name:
                start, end = (int(x, 16) for x in fields[0].split("-"))
                ranges.append((start, end))
    return ranges


def _receive_and_write(a, name):
    data = a.__array_interface__["data"][0]
    inside = any(s <= data and data + a.nbytes <= e for s, e in _segment_ranges(name))
    total = float(a.sum())
    a[0], a[-1] = -1.0, -2.0
    return {"type": type(a).__name__, "pid": os.getpid(), "in_segment": inside,
            "owndata": bool(a.flags.owndata), "sum": total}


def _ends(a):
    return float(a[0]), float(a[-1]), os.getpid()


# --------------------------------------------------------------- tests

def test_same_host_worker_reads_and_writes_in_place(cluster):
    client, a, b, kind = cluster
    x = client.submit(_ramp, kind, ITEMS, workers=[a], pure=False)
    got = client.submit(_receive_and_write, x, kind.name, workers=[b], pure=False)
    seen = got.result(timeout=WAIT)
    ends = client.submit(_ends, x, workers=[a], pure=False).result(timeout=WAIT)
    assert seen["type"] == "SharedArray" and seen["in_segment"] and not seen["owndata"]
    assert seen["sum"] == ITEMS * (ITEMS - 1) / 2
    assert ends[2] != seen["pid"]          # two processes...
    assert ends[:2] == (-1.0, -2.0)        # ...one array: the receiver's writes are there
    del x, got
    # The receiver's view goes with its replica; then the sender's lease returns.
    deadline = time.monotonic() + WAIT
    while any(client.run(mkf_dask.lent).values()):
        assert time.monotonic() < deadline, client.run(mkf_dask.lent)
        time.sleep(0.2)


def test_other_host_gets_the_bytes(cluster):
    client, a, b, kind = cluster
    client.run(mkf_dask.set_transport, "bytes")
    try:
        x = client.submit(_ramp, kind, ITEMS, workers=[a], pure=False)
        seen = client.submit(_receive_and_write, x, kind.name, workers=[b],
                             pure=False).result(timeout=WAIT)
        ends = client.submit(_ends, x, workers=[a], pure=False).result(timeout=WAIT)
    finally:
        client.run(mkf_dask.set_transport, "auto")
    assert seen["type"] == "ndarray" and not seen["in_segment"]
    assert seen["sum"] == ITEMS * (ITEMS - 1) / 2  # every byte arrived
    assert ends[:2] == (0.0, ITEMS - 1.0)           # a copy: the sender's is untouched
    assert all(n == 0 for n in client.run(mkf_dask.lent).values())


def _context(sender, recipient):
    return {"sender": {"address": sender}, "recipient": {"address": recipient}}


@pytest.mark.parametrize("sender, recipient, same", [
    ("tcp://127.0.0.1:4000", "tcp://127.0.0.1:4001", True),
    ("tcp://10.1.2.3:4000", "tcp://10.1.2.3:4001", True),     # one host, its own address
    ("tcp://10.1.2.3:4000", "tcp://127.0.0.1:4001", True),    # loopback peer
    ("tcp://[::1]:4000", "tcp://[::1]:4001", True),
    ("tcp://10.1.2.3:4000", "tcp://10.1.2.4:4001", False),    # another host
    ("inproc://10.1.2.3/1/1", "inproc://10.1.2.3/1/2", False),
])
def test_host_check(sender, recipient, same):
    assert mkf_dask._same_host(_context(sender, recipient)) is same
    assert mkf_dask._same_host(None) is False  # no connection (spilling): bytes


def test_serialize_in_process():
    with mkf.SharedKind.create(4 << 20) as kind:
        x = kind.full((100, 3), 2.5)
        header, frames = serialize(x, serializers=["dask"],
                                   context=_context("tcp://127.0.0.1:1", "tcp://127.0.0.1:2"))
        assert sum(memoryview(f).nbytes for f in frames) < 1024  # a handle
        assert mkf_dask.lent() == 1
        y = deserialize(header, frames)
        assert isinstance(y, mkf.SharedArray) and y.ctypes.data == x.ctypes.data
        assert y.shape == (100, 3) and float(y.sum()) == 750.0
        del y
        assert mkf_dask.lent() == 0  # the view went: the lease came back

        header, frames = serialize(x[:, 1], serializers=["dask"], context=None)
        z = deserialize(header, frames)
        assert type(z) is numpy.ndarray and z.tolist() == [2.5] * 100
        assert not kind.contains(z) and mkf_dask.lent() == 0


def test_scatter_from_the_client_lends_the_array(cluster):
    client, _a, b, kind = cluster
    arr = kind.full(1 << 16, 3.0)
    [x] = client.scatter([arr], workers=[b])
    seen = client.submit(_receive_and_write, x, kind.name, workers=[b],
                         pure=False).result(timeout=WAIT)
    assert seen["type"] == "SharedArray" and seen["in_segment"] and seen["pid"] != os.getpid()
    assert arr[0] == -1.0 and arr[-1] == -2.0  # the worker wrote into this array
    assert mkf_dask.lent() == 1                 # kept here while the worker's view lives
    del x
    deadline = time.monotonic() + WAIT
    while mkf_dask.lent():
        assert time.monotonic() < deadline
        time.sleep(0.2)
