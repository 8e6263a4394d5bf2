package org.memkind.fixed;

import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A heap that lives entirely inside one memory region: every buffer that
 * {@link #allocate} returns is a direct {@link ByteBuffer} whose memory lies in the
 * region, and no byte outside the region is written.
 *
 * <p>The region is either mapped by the kind itself ({@link #map}, anonymous memory
 * of any size that the kind unmaps when it is closed) or a direct ByteBuffer the
 * caller provides ({@link #over}, which the kind keeps reachable as long as it lives
 * and never frees).
 *
 * <p><b>Buffers and their kind.</b> A direct ByteBuffer cannot be invalidated, so a
 * buffer that outlived its block would let Java read and write memory the heap (or,
 * for a mapped region, nobody) owns. Therefore:
 * <ul>
 * <li>{@link #free} takes exactly a buffer that this kind returned and that is still
 *     live (not a slice or duplicate of it); anything else is an
 *     IllegalArgumentException, so a double free cannot reach the heap.</li>
 * <li>{@link #close} refuses with IllegalStateException while buffers are live and
 *     leaves the kind open and usable: free them first. Closing a closed kind does
 *     nothing.</li>
 * <li>A kind with live buffers stays reachable, and with it its region, even when
 *     the program drops every reference to the FixedKind: the class holds it until
 *     its last buffer is freed. A kind dropped with live buffers is therefore never
 *     destroyed (like blocks that C never frees); its buffers stay valid.</li>
 * <li>A kind that becomes unreachable with no live buffer is destroyed by a
 *     {@link Cleaner} (and a mapped region unmapped), as {@link #close} would.</li>
 * <li>Using a buffer after freeing it is the caller's error, as in C.</li>
 * </ul>
 *
 * <p><b>Sizes</b> are {@code long}: a mapped region may be larger than 2 GiB. A
 * buffer is a ByteBuffer, whose capacity is an {@code int}, so it holds at most
 * {@link #MAX_BUFFER_SIZE} bytes: a larger request throws IllegalArgumentException
 * without asking the heap. Buffers are in the default (big-endian) byte order;
 * {@code buffer.order(ByteOrder.nativeOrder())} changes the order of that same buffer.
 *
 * <p>All methods are thread-safe: a kind may be used from any number of threads, and
 * a buffer may be freed by another thread than the one that allocated it.
 */
public final class FixedKind implements AutoCloseable {
    /** The largest buffer: a ByteBuffer's capacity is an int. */
    public static final long MAX_BUFFER_SIZE = Integer.MAX_VALUE;

    /** Destroys kinds that become unreachable without live buffers. */
    private static final Cleaner CLEANER = Cleaner.create();

    /**
     * The kinds that have live buffers. A ByteBuffer cannot refer to its kind, so
     * without this a kind could become unreachable while its buffers are in use, and
     * its cleaning would destroy the heap (and free or unmap the region) under them.
     */
    private static final Set<FixedKind> WITH_LIVE_BUFFERS = ConcurrentHashMap.newKeySet();

    /** The kind and its region (also the cleaning action, so it must not refer to
     *  this); null once closed. */
    private Heap heap;
    private final Cleaner.Cleanable cleanable;
    /** Buffers handed out and not freed, by identity (ByteBuffer.equals compares
     *  contents). */
    private final Set<ByteBuffer> live = Collections.newSetFromMap(new IdentityHashMap<>());

    /*
     * Reachability: every method that passes the kind to the library is synchronized.
     * An object whose monitor is held is not reclaimed, so the cleaning action cannot
     * destroy the kind during such a call (see Reference.reachabilityFence).
     */

    /**
     * The library's kind over a region, and how to release both. A kind is destroyed
     * before its region goes: by close() or, for a kind that became unreachable
     * without live buffers, by the cleaner. For a caller's region,
     * {@code callerRegion} keeps the caller's ByteBuffer (and so its memory)
     * reachable until then.
     */
    private static final class Heap implements Runnable {
        final Memkind kind;
        final long address;
        final long size;
        /** Whether the region was mapped by map() (unmapped here) or is the caller's. */
        final boolean mapped;
        final long mapFlags;
        final ByteBuffer callerRegion;

        Heap(long address, long size, boolean mapped, long mapFlags, ByteBuffer callerRegion,
                long regionFlags) {
            this.address = address;
            this.size = size;
            this.mapped = mapped;
            this.mapFlags = mapFlags;
            this.callerRegion = callerRegion;
            try {
                kind = MemkindFixed.memkind_create_fixed_flags(address, size, regionFlags);
            } catch (RuntimeException e) {
                if (mapped) {
                    MemkindFixed.memkind_region_unmap(address, size, mapFlags);
                }
                throw e;
            }
            // allocate(0) returns a buffer of capacity 0 that must be freed like any other.
            MemkindFixed.memkind_set_allow_zero_allocs(kind, true);
        }

        /** Destroy the kind, then unmap a mapped region. Runs once. */
        @Override
        public void run() {
            kind.delete(); // memkind_destroy_kind
            if (mapped) {
                MemkindFixed.memkind_region_unmap(address, size, mapFlags);
            }
        }
    }

    private FixedKind(Heap heap) {
        this.heap = heap;
        this.cleanable = CLEANER.register(this, heap);
    }

    /**
     * A kind over {@code size} bytes of fresh anonymous memory that it maps now (with
     * the process's NUMA policy) and unmaps when closed. The size may exceed 2 GiB.
     *
     * @throws MemkindException if the memory cannot be mapped (MEMKIND_ERROR_MMAP) or
     *     the kind cannot be created
     */
    public static FixedKind map(long size) {
        return map(size, MemkindRegionPolicy.MEMKIND_REGION_POLICY_DEFAULT, 0, 0);
    }

    /**
     * A kind over {@code size} bytes of fresh anonymous memory placed by
     * {@code policy} (a {@link MemkindRegionPolicy} constant) on NUMA node
     * {@code node}, with {@code mapFlags} ({@link MemkindRegionMapFlags}, for example
     * huge pages), as memkind_region_map() does. The region is unmapped when the kind
     * is closed.
     */
    public static FixedKind map(long size, int policy, int node, long mapFlags) {
        if (size <= 0) {
            throw new IllegalArgumentException("region size must be positive: " + size);
        }
        long address = MemkindFixed.memkind_region_map(size, policy, node, mapFlags);
        return new FixedKind(new Heap(address, size, true, mapFlags, null,
                MemkindRegionFlags.MEMKIND_REGION_ZEROED));
    }

    /**
     * A kind over the whole capacity of the caller's direct, writable buffer (its
     * position and limit do not matter). The start is rounded up and the end down to
     * whole pages; the rest of the buffer is not touched. The buffer must not be
     * used by the caller while the kind lives; it stays the caller's after close.
     *
     * @throws IllegalArgumentException for a heap or read-only buffer
     * @throws MemkindException MEMKIND_ERROR_REGION_TOO_SMALL (less than one whole
     *     page), MEMKIND_ERROR_REGION_OVERLAP (overlaps the region of a live kind)
     */
    public static FixedKind over(ByteBuffer region) {
        return over(region, 0);
    }

    /**
     * {@link #over(ByteBuffer)} with region flags ({@link MemkindRegionFlags}: the
     * memory is known to be zero, or freed pages go back to the system).
     */
    public static FixedKind over(ByteBuffer region, long regionFlags) {
        Objects.requireNonNull(region, "region");
        if (!region.isDirect()) {
            throw new IllegalArgumentException("the region must be a direct ByteBuffer");
        }
        if (region.isReadOnly()) {
            throw new IllegalArgumentException("the region must be writable");
        }
        return new FixedKind(new Heap(MemkindFixed.mkf_buffer_address(region),
                region.capacity(), false, 0, region, regionFlags));
    }

    /**
     * A buffer of {@code size} bytes (uninitialised) in the region.
     *
     * @throws MemkindOutOfMemoryException when the region has no room for it
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
     * Give a buffer back to the region. The buffer must not be used afterwards.
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

    /** The number of buffers allocated and not freed. */
    public synchronized int liveBuffers() {
        return live.size();
    }

    /** The usable bytes of the region (whole pages), as memkind_get_capacity(). */
    public synchronized long capacity() {
        return MemkindFixed.memkind_get_capacity(open());
    }

    /** The region's statistics now (memkind_fixed_get_stats). */
    public synchronized Stats stats() {
        MemkindFixedStats s = MemkindFixed.memkind_fixed_get_stats(open());
        try {
            return new Stats(s.getCapacity(), s.getUsed(), s.getFree(), s.getLargestFree(),
                    s.getPeakUsed(), s.getAllocated(), s.getFailedAllocs(), s.getRegions(),
                    s.getResident());
        } finally {
            s.delete();
        }
    }

    /** Return the freed pages the heap caches to the region now (memkind_fixed_purge). */
    public synchronized void purge() {
        MemkindFixed.memkind_fixed_purge(open());
    }

    /** Whether {@link #close} has destroyed the kind. */
    public synchronized boolean isClosed() {
        return heap == null;
    }

    /**
     * Destroy the kind and, for {@link #map}, unmap its region. Does nothing when
     * already closed.
     *
     * @throws IllegalStateException while buffers are live; the kind stays open
     */
    @Override
    public synchronized void close() {
        if (heap == null) {
            return;
        }
        if (!live.isEmpty()) {
            throw new IllegalStateException(live.size()
                    + " buffer(s) of this kind are still allocated: free them before close()");
        }
        heap = null; // and with it a caller's region
        cleanable.clean(); // Heap.run, now and never again
    }

    @Override
    public synchronized String toString() {
        return heap == null
                ? "FixedKind[closed]"
                : "FixedKind[" + (heap.mapped ? "mapped" : "caller's") + " region of "
                        + heap.size + " bytes, " + live.size() + " live buffers]";
    }

    /** Package-private for tests: the library's handle. */
    synchronized Memkind handle() {
        return open();
    }

    private Memkind open() {
        if (heap == null) {
            throw new IllegalStateException("the kind is closed");
        }
        return heap.kind;
    }

    private void requireLive(ByteBuffer buffer) {
        if (buffer == null || !live.contains(buffer)) {
            throw new IllegalArgumentException("not a live buffer of this kind");
        }
    }

    private static void requireSize(long size) {
        if (size < 0) {
            throw new IllegalArgumentException("negative size: " + size);
        }
        if (size > MAX_BUFFER_SIZE) {
            throw new IllegalArgumentException("a buffer holds at most " + MAX_BUFFER_SIZE
                    + " bytes (a ByteBuffer's capacity is an int): " + size);
        }
    }

    private ByteBuffer track(ByteBuffer buffer) {
        if (buffer == null) { // cannot happen with zero allocations allowed
            throw new MemkindOutOfMemoryException(0, "no buffer returned");
        }
        if (live.isEmpty()) {
            WITH_LIVE_BUFFERS.add(this);
        }
        live.add(buffer);
        return buffer;
    }

    private void forget(ByteBuffer buffer) {
        live.remove(buffer);
        if (live.isEmpty()) {
            WITH_LIVE_BUFFERS.remove(this);
        }
    }

    /** Region statistics of a kind, in bytes (see memkind_fixed_stats in the C header). */
    public record Stats(
            long capacity,
            long used,
            long free,
            long largestFree,
            long peakUsed,
            long allocated,
            long failedAllocs,
            long regions,
            long resident) {}
}
