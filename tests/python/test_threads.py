"""Threads sharing one kind (the C calls run without the GIL)."""

import threading

import pytest

import memkind_fixed as mkf

THREADS = 4
ROUNDS = 300


def test_threads_share_a_kind():
    errors = []
    start = threading.Barrier(THREADS)
    with mkf.FixedKind(size=16 << 20) as kind:

        def worker(tid):
            try:
                start.wait()
                live = []
                for i in range(ROUNDS):
                    size = 16 + (i * 37 + tid * 101) % 5000
                    a = kind.malloc(size) if i % 3 else kind.calloc(1, size)
                    pattern = bytes([(tid * 31 + i) % 256]) * size
                    memoryview(a)[:] = pattern
                    live.append((a, pattern))
                    if len(live) > 20:
                        old, old_pattern = live.pop(0)
                        if bytes(old) != old_pattern:
                            errors.append(f"thread {tid}: block overwritten")
                        if i % 2:
                            old = kind.realloc(old, len(old) * 2)
                            if bytes(old)[:len(old_pattern)] != old_pattern:
                                errors.append(f"thread {tid}: realloc lost data")
                        old.release()
                    if not kind.contains(a):
                        errors.append(f"thread {tid}: block outside the region")
                for a, pattern in live:
                    if bytes(a) != pattern:
                        errors.append(f"thread {tid}: block overwritten at the end")
                    a.release()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(f"thread {tid}: {e!r}")

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        stats = kind.stats()
        assert stats.peak_used > 0
        assert stats.failed_allocs == 0


def test_allocation_freed_by_another_thread():
    with mkf.FixedKind(size=4 << 20) as kind:
        blocks = [kind.malloc(1 << 16) for _ in range(32)]
        for i, b in enumerate(blocks):
            memoryview(b)[:] = bytes([i]) * (1 << 16)

        def free_all():
            for b in blocks:
                b.release()

        t = threading.Thread(target=free_all)
        t.start()
        t.join()
        assert all(b.released for b in blocks)
        # the freed memory serves this thread again
        again = [kind.malloc(1 << 16) for _ in range(32)]
        assert all(kind.contains(b) for b in again)


def test_close_while_other_threads_allocate():
    kind = mkf.FixedKind(size=8 << 20)
    kept = []
    outcomes = []
    go = threading.Event()

    def worker():
        go.wait()
        for _ in range(500):
            try:
                a = kind.malloc(256)
            except ValueError:  # closed: the expected way to stop
                outcomes.append("closed")
                return
            memoryview(a)[:] = b"z" * 256
            kept.append(a)
        outcomes.append("done")

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    go.set()
    kind.close()
    for t in threads:
        t.join()
    assert sorted(set(outcomes)) <= ["closed", "done"] and len(outcomes) == 3
    with pytest.raises(ValueError):
        kind.malloc(1)
    # Whatever was allocated before the close is still valid memory.
    assert all(bytes(a) == b"z" * 256 for a in kept)
    assert len(kept) <= 1500
