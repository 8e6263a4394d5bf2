package org.memkind.fixed;

import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What {@link FixedKind} and {@link SharedKind} have in common: a kind of the library
 * whose blocks are handed out as direct ByteBuffers, the set of those buffers that
 * are live, and the rules that keep a buffer from outliving its memory (see
 * FixedKind). Package-private: its public methods are FixedKind's and SharedKind's.
 *
 * <p>Reachability: every method that passes the kind to the library is
 * synchronized. An object whose monitor is held is not reclaimed, so the cleaning
 * action cannot destroy the kind during such a call (see Reference.reachabilityFence).
 */
abstract class BufferKind implements AutoCloseable {
    /** The largest buffer: a ByteBuffer's capacity is an int. */
    public static final long MAX_BUFFER_SIZE = Integer.MAX_VALUE;

    /** Destroys kinds that become unreachable without live buffers. */
    private static final Cleaner CLEANER = Cleaner.create();

    /**
     * The kinds that have live buffers. A ByteBuffer cannot refer to its kind, so
     * without this a kind could become unreachable while its buffers are in use, and
     * its cleaning would destroy the heap (and free or unmap its memory) under them.
     */
    private static final Set<BufferKind> WITH_LIVE_BUFFERS = ConcurrentHashMap.newKeySet();

    /** The library's kind; null once closed. */
    private Memkind kind;
    private final Cleaner.Cleanable cleanable;
    /** Buffers handed out and not freed, by identity (ByteBuffer.equals compares
     *  contents). */
    private final Set<ByteBuffer> live = Collections.newSetFromMap(new IdentityHashMap<>());

    /**
     * A kind that {@code release} destroys, with what else must go with it, when it
     * is closed or becomes unreachable without live buffers. {@code release} must
     * not refer to this object.
     */
    BufferKind(Memkind kind, Runnable release) {
        this.kind = kind;
        this.cleanable = CLEANER.register(this, release);
        // allocate(0) returns a buffer of capacity 0 that must be freed like any other.
        MemkindFixed.memkind_set_allow_zero_allocs(kind, true);
    }

    /**
     * A buffer of {@code size} bytes (uninitialised) in the kind's memory.
     *
     * @throws MemkindOutOfMemoryException when there is no room for it
     * @throws IllegalArgumentException when {@code size} is negative or above
     *     {@link #MAX_BUFFER_SIZE}
     * @throws IllegalStateException when the kind is closed
     */
    public synchronized ByteBuffer allocate(long size) {
        requireSize(size);
        return track(MemkindFixed.memkind_malloc(open(), size));
    }

    /** {@link #allocate} with the buffer's bytes set to zero. */
    public synchronized ByteBuffer allocateZeroed(long size) {
        requireSize(size);
        return track(MemkindFixed.memkind_calloc(open(), 1, size));
    }

    /**
     * {@link #allocate} at an address that is a multiple of {@code alignment}, a power
     * of two and a multiple of 8.
     *
     * @throws MemkindException code EINVAL for a bad alignment
     */
    public synchronized ByteBuffer allocateAligned(long alignment, long size) {
        requireSize(size);
        return track(MemkindFixed.memkind_posix_memalign(open(), alignment, size));
    }

    /**
     * Resize a live buffer of this kind, keeping its contents up to the smaller size.
     * Returns the new buffer; the old one is freed, unless this throws, in which case
     * it is left as it was.
     */
    public synchronized ByteBuffer reallocate(ByteBuffer buffer, long size) {
        requireSize(size);
        Memkind k = open();
        requireLive(buffer);
        ByteBuffer moved = MemkindFixed.memkind_realloc(k, buffer, size);
        forget(buffer);
        return track(moved);
    }

    /**
     * Give a buffer's block back to the heap. The buffer must not be used afterwards.
     *
     * @throws IllegalArgumentException if {@code buffer} is not a live buffer of this
     *     kind (another kind's, already freed, a slice or duplicate, a heap buffer)
     */
    public synchronized void free(ByteBuffer buffer) {
        Memkind k = open();
        requireLive(buffer);
        forget(buffer);
        MemkindFixed.memkind_free(k, buffer);
    }

    /** The number of buffers handed out and not freed. */
    public synchronized int liveBuffers() {
        return live.size();
    }

    /** The usable bytes of the heap (whole pages), as memkind_get_capacity(). */
    public synchronized long capacity() {
        return MemkindFixed.memkind_get_capacity(open());
    }

    /** Return the freed pages the heap caches to its memory now (memkind_fixed_purge). */
    public synchronized void purge() {
        MemkindFixed.memkind_fixed_purge(open());
    }

    /** Whether {@link #close} has destroyed the kind. */
    public synchronized boolean isClosed() {
        return kind == null;
    }

    /**
     * Destroy the kind and what goes with it. A {@link FixedKind} unmaps a region it
     * mapped; a {@link SharedKind} detaches this process from the heap
     * (memkind_shared_detach: its blocks stay valid for the other processes), and
     * its creator unlinks the segment's name. Does nothing when already closed.
     *
     * @throws IllegalStateException while buffers are live; the kind stays open
     */
    @Override
    public synchronized void close() {
        if (kind == null) {
            return;
        }
        if (!live.isEmpty()) {
            throw new IllegalStateException(live.size()
                    + " buffer(s) of this kind are still allocated: free them before close()");
        }
        kind = null;
        cleanable.clean(); // the release action, now and never again
    }

    /** Package-private for tests: the library's handle. */
    synchronized Memkind handle() {
        return open();
    }

    /** The heap's statistics for this kind (memkind_fixed_get_stats). */
    synchronized FixedKind.Stats fixedStats() {
        MemkindFixedStats s = MemkindFixed.memkind_fixed_get_stats(open());
        try {
            return new FixedKind.Stats(s.getCapacity(), s.getUsed(), s.getFree(),
                    s.getLargestFree(), s.getPeakUsed(), s.getAllocated(), s.getFailedAllocs(),
                    s.getRegions(), s.getResident());
        } finally {
            s.delete();
        }
    }

    /** The kind, or IllegalStateException when closed. Call with the monitor held. */
    final Memkind open() {
        if (kind == null) {
            throw new IllegalStateException("the kind is closed");
        }
        return kind;
    }

    /** Throws IllegalArgumentException unless {@code buffer} is a live buffer of this kind. */
    final void requireLive(ByteBuffer buffer) {
        if (buffer == null || !live.contains(buffer)) {
            throw new IllegalArgumentException("not a live buffer of this kind");
        }
    }

    static void requireSize(long size) {
        if (size < 0) {
            throw new IllegalArgumentException("negative size: " + size);
        }
        if (size > MAX_BUFFER_SIZE) {
            throw new IllegalArgumentException("a buffer holds at most " + MAX_BUFFER_SIZE
                    + " bytes (a ByteBuffer's capacity is an int): " + size);
        }
    }

    /** Count {@code buffer} as live: it keeps this kind reachable until freed. */
    final ByteBuffer track(ByteBuffer buffer) {
        if (buffer == null) { // cannot happen with zero allocations allowed
            throw new MemkindOutOfMemoryException(0, "no buffer returned");
        }
        if (live.isEmpty()) {
            WITH_LIVE_BUFFERS.add(this);
        }
        live.add(buffer);
        return buffer;
    }

    /** Stop counting {@code buffer} as live. */
    final void forget(ByteBuffer buffer) {
        live.remove(buffer);
        if (live.isEmpty()) {
            WITH_LIVE_BUFFERS.remove(this);
        }
    }
}
