"""SharedArrays for Dask's ``distributed``: a handle to a worker on the same host, the
bytes to one on another (issue 24). Needs the extra ``memkind_fixed[dask]``.

Registered through distributed's own serialization dispatch (``dask_serialize`` /
``dask_deserialize`` of ``distributed.protocol``), so that a SharedArray handed from
one worker (or the client) to another travels as:

- **a handle** (segment name, offsets, shape, dtype, strides: a few hundred bytes)
  when the connection's two ends are on one host: the TCP connection's local and
  peer addresses are the same, or the peer's is a loopback address. The receiver
  gets a SharedArray over its own mapping of the same bytes: no copy, and what it
  writes the sender sees.
- **its bytes** (distributed's numpy serialization) otherwise, and whenever no
  connection is known (spilling to disk), or after ``set_transport("bytes")``. The
  receiver gets a plain numpy array.

Lifetime. Dask keeps a key's replicas independently: the sender may drop its copy
(when the scheduler releases it there, or its memory manager reduces replicas)
while a receiver still reads the view. So each handle carries a *lease*, an 8-byte
counter in the same shared heap: the sender takes one unit per handle it sends and
keeps the array until the counter is back at 0; each receiving view gives its unit
back when it is collected (in C, mkf_python.c). Lent arrays are checked every
``SWEEP_SECONDS`` by a daemon thread while there are any, and at each send. A
receiver that dies holding a view never gives its unit back: the sender then keeps
that array until it exits.

This module registers itself when it is imported; ``import memkind_fixed`` imports
it when ``distributed`` is already imported (as in every Dask worker), so only a
client that imports memkind_fixed *before* distributed needs
``import memkind_fixed.dask``.
"""

from __future__ import annotations

import ipaddress
import os
import pickle
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy
from distributed.comm.addressing import parse_address, parse_host_port
from distributed.protocol.numpy import deserialize_numpy_ndarray, serialize_numpy_ndarray
from distributed.protocol.serialize import dask_deserialize, dask_serialize

from ._kind import Allocation
from ._native import lease_add
from ._shared import SharedArray, SharedKind, _rebuild, _registered

__all__ = ["lent", "set_transport", "SWEEP_SECONDS"]

#: How often lent arrays are checked for returned leases while there are any.
SWEEP_SECONDS = 0.5

_transport = "auto"
_lock = threading.Lock()
# (segment name, lease offset) -> (the array lent, its lease: an Allocation)
_lent: Dict[Tuple[str, int], Tuple[SharedArray[Any], Allocation]] = {}
_sweeper: Optional[threading.Thread] = None
_SAME_HOST_PROTOCOLS = ("tcp", "tls", "ws", "wss")


def set_transport(mode: str) -> str:
    """``"auto"`` (handles to the same host, bytes otherwise; the default) or
    ``"bytes"`` (always bytes) for SharedArrays this process sends from now on.
    Returns the previous mode. Run it on the workers with ``client.run``."""
    global _transport
    if mode not in ("auto", "bytes"):
        raise ValueError(f"transport must be 'auto' or 'bytes', not {mode!r}")
    previous, _transport = _transport, mode
    return previous


def lent() -> int:
    """Arrays this process sent as handles whose views are not all gone yet."""
    _sweep()
    return len(_lent)


def _host(address: str) -> Optional[str]:
    protocol, location = parse_address(address)
    if protocol not in _SAME_HOST_PROTOCOLS:
        return None
    host, _ = parse_host_port(location)
    return str(host)


def _same_host(context: Optional[Dict[str, Any]]) -> bool:
    """Whether a connection (distributed's serialization context) joins two
    processes of this host."""
    if _transport != "auto" or not context:
        return False
    try:
        local = _host(context["sender"]["address"])
        peer = _host(context["recipient"]["address"])
    except (KeyError, TypeError, ValueError):
        return False
    if local is None or peer is None:
        return False
    if local == peer:
        return True
    try:
        return ipaddress.ip_address(peer.strip("[]")).is_loopback
    except ValueError:
        return peer == "localhost"


def _boot_id() -> str:
    """This host's identity for the life of its kernel (a handle means nothing on
    another host, nor after a reboot)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return os.uname().nodename


_BOOT_ID = _boot_id()


def _sweep() -> None:
    """Drop the lent arrays whose views have all gone (their lease is back at 0)."""
    with _lock:
        done = [key for key, (_array, lease) in _lent.items() if lease_add(lease, 0) <= 0]
        for key in done:
            _array, lease = _lent.pop(key)
            lease.release()


def _sweep_loop() -> None:
    global _sweeper
    while True:
        time.sleep(SWEEP_SECONDS)
        _sweep()
        with _lock:
            if not _lent:
                _sweeper = None
                return


def _lend(array: SharedArray[Any], kind: SharedKind) -> int:
    """A lease of one unit on `array`: the offset of its counter in the segment."""
    global _sweeper
    lease = kind.calloc(1, 8)
    lease_add(lease, 1)
    offset = kind.offset(lease)
    with _lock:
        _lent[(kind.name, offset)] = (array, lease)
        if _sweeper is None:
            _sweeper = threading.Thread(target=_sweep_loop, name="memkind_fixed-leases",
                                        daemon=True)
            _sweeper.start()
    return offset


def _serialize(x: SharedArray[Any], context: Optional[Dict[str, Any]] = None
               ) -> Tuple[Dict[str, Any], List[Any]]:
    if _lent:
        _sweep()
    reduced = x.__reduce_ex__(5)
    if _same_host(context) and reduced[0] is _rebuild:
        args = reduced[1]
        lease = _lend(x, _registered(args[0]))
        return ({"memkind_fixed": "handle", "boot_id": _BOOT_ID},
                [pickle.dumps((*args, lease), protocol=5)])
    header, frames = serialize_numpy_ndarray(x.view(numpy.ndarray))
    return {"memkind_fixed": "bytes", "numpy": header}, frames


def _deserialize(header: Dict[str, Any], frames: List[Any]) -> Any:
    if header.get("memkind_fixed") == "bytes":
        return deserialize_numpy_ndarray(header["numpy"], frames)
    args = pickle.loads(frames[0])
    if header.get("boot_id") != _BOOT_ID:
        raise RuntimeError("memkind_fixed: a SharedArray handle from another host (or "
                           "an earlier boot) reached this process; it can only be read "
                           "where its segment is")
    return _rebuild(*args)


# (dask.utils.Dispatch is untyped.)
_register: Any = dask_serialize.register
_register(SharedArray)(_serialize)
_register = dask_deserialize.register
_register(SharedArray)(_deserialize)
