package org.memkind.fixed;

import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Objects;
import java.util.Set;

/**
 * A heap that lives entirely inside one memory region: every buffer that
 * {@link #allocate} returns is a direct {@link ByteBuffer} whose memory lies in the
 * region, and no byte outside the region is written.
 *
 * <p>The region is either mapped by the kind itself ({@link #map}, anonymous memory
 * the kind unmaps on {@link #close}) or a direct ByteBuffer the caller provides
 * ({@link #over}, which the kind keeps reachable until it is closed and never frees).
 *
 * <p><b>Buffers and close.</b> A direct ByteBuffer cannot be invalidated, so a buffer
 * that outlived its block would let Java read and write memory the heap (or, for a
 * mapped region, nobody) owns. Therefore:
 * <ul>
 * <li>{@link #free} takes exactly a buffer that this kind returned and that is still
 *     live (not a slice or duplicate of it); anything else is an
 *     IllegalArgumentException, so a double free cannot reach the heap.</li>
 * <li>{@link #close} refuses with IllegalStateException while buffers are live and
 *     leaves the kind open and usable: free them first. Closing a closed kind does
 *     nothing.</li>
 * <li>Using a buffer after freeing it is the caller's error, as in C.</li>
 * <li>There is no finalizer: a kind that is never closed keeps its region.</li>
 * </ul>
 *
 * <p>Buffers are ByteBuffers of exactly the requested capacity, in the default
 * (big-endian) byte order; {@code buffer.order(ByteOrder.nativeOrder())} changes the
 * order of that same buffer. A buffer holds at most {@code Integer.MAX_VALUE} bytes,
 * and so does a region.
 *
 * <p>All methods are thread-safe: a kind may be used from any number of threads, and
 * a buffer may be freed by another thread than the one that allocated it.
 */
public final class FixedKind implements AutoCloseable {
    /** The library's handle; null once closed. */
    private Memkind kind;
    /** The region, kept reachable while the kind lives (it may be a caller's buffer
     *  whose memory Java would free once unreachable). */
    private ByteBuffer region;
    /** Whether close() unmaps the region (map) or leaves it to the caller (over). */
    private final boolean ownsRegion;
    /** The flags the region was mapped with, for memkind_region_unmap. */
    private final long mapFlags;
    /** Buffers handed out and not freed, by identity (ByteBuffer.equals compares
     *  contents). */
    private final Set<ByteBuffer> live = Collections.newSetFromMap(new IdentityHashMap<>());

    private FixedKind(ByteBuffer region, boolean ownsRegion, long mapFlags, long regionFlags) {
        this.region = region;
        this.ownsRegion = ownsRegion;
        this.mapFlags = mapFlags;
        try {
            kind = MemkindFixed.memkind_create_fixed_flags(region, regionFlags);
        } catch (RuntimeException e) {
            if (ownsRegion) {
                MemkindFixed.memkind_region_unmap(region, mapFlags);
            }
            throw e;
        }
        // allocate(0) returns a buffer of capacity 0 that must be freed like any other.
        MemkindFixed.memkind_set_allow_zero_allocs(kind, true);
    }

    /**
     * A kind over {@code size} bytes of fresh anonymous memory that it maps now (with
     * the process's NUMA policy) and unmaps on close.
     *
     * @throws MemkindException if the memory cannot be mapped (MEMKIND_ERROR_MMAP) or
     *     the kind cannot be created
     */
    public static FixedKind map(int size) {
        return map(size, MemkindRegionPolicy.MEMKIND_REGION_POLICY_DEFAULT, 0, 0);
    }

    /**
     * A kind over {@code size} bytes of fresh anonymous memory placed by
     * {@code policy} (a {@link MemkindRegionPolicy} constant) on NUMA node
     * {@code node}, with {@code mapFlags} ({@link MemkindRegionMapFlags}, for example
     * huge pages), as memkind_region_map() does. The region is unmapped on close.
     */
    public static FixedKind map(int size, int policy, int node, long mapFlags) {
        if (size <= 0) {
            throw new IllegalArgumentException("region size must be positive: " + size);
        }
        ByteBuffer region = MemkindFixed.memkind_region_map(size, policy, node, mapFlags);
        return new FixedKind(region, true, mapFlags, MemkindRegionFlags.MEMKIND_REGION_ZEROED);
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
        return new FixedKind(region, false, 0, regionFlags);
    }

    /**
     * A buffer of {@code size} bytes (uninitialised) in the region.
     *
     * @throws MemkindOutOfMemoryException when the region has no room for it
     * @throws IllegalStateException when the kind is closed
     */
    public synchronized ByteBuffer allocate(int size) {
        requireSize(size);
        return track(MemkindFixed.memkind_malloc(open(), size));
    }

    /** {@link #allocate} with the buffer's bytes set to zero. */
    public synchronized ByteBuffer allocateZeroed(int size) {
        requireSize(size);
        return track(MemkindFixed.memkind_calloc(open(), 1, size));
    }

    /**
     * {@link #allocate} at an address that is a multiple of {@code alignment}, a power
     * of two and a multiple of 8.
     *
     * @throws MemkindException code EINVAL for a bad alignment
     */
    public synchronized ByteBuffer allocateAligned(int alignment, int size) {
        requireSize(size);
        return track(MemkindFixed.memkind_posix_memalign(open(), alignment, size));
    }

    /**
     * Resize a live buffer of this kind, keeping its contents up to the smaller size.
     * Returns the new buffer; the old one is freed, unless this throws, in which case
     * it is left as it was.
     */
    public synchronized ByteBuffer reallocate(ByteBuffer buffer, int size) {
        requireSize(size);
        requireLive(buffer);
        ByteBuffer moved = MemkindFixed.memkind_realloc(open(), buffer, size);
        live.remove(buffer);
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
        live.remove(buffer);
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
        return kind == null;
    }

    /**
     * Destroy the kind and, for {@link #map}, unmap its region. Does nothing when
     * already closed.
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
        Memkind k = kind;
        kind = null;
        k.delete(); // memkind_destroy_kind
        ByteBuffer r = region;
        region = null;
        if (ownsRegion) {
            MemkindFixed.memkind_region_unmap(r, mapFlags);
        }
    }

    @Override
    public synchronized String toString() {
        return kind == null
                ? "FixedKind[closed]"
                : "FixedKind[" + (ownsRegion ? "mapped" : "caller's") + " region of "
                        + region.capacity() + " bytes, " + live.size() + " live buffers]";
    }

    /** Package-private for tests: the library's handle. */
    synchronized Memkind handle() {
        return open();
    }

    private Memkind open() {
        if (kind == null) {
            throw new IllegalStateException("the kind is closed");
        }
        return kind;
    }

    private void requireLive(ByteBuffer buffer) {
        if (buffer == null || !live.contains(buffer)) {
            throw new IllegalArgumentException("not a live buffer of this kind");
        }
    }

    private static void requireSize(int size) {
        if (size < 0) {
            throw new IllegalArgumentException("negative size: " + size);
        }
    }

    private ByteBuffer track(ByteBuffer buffer) {
        if (buffer == null) { // cannot happen with zero allocations allowed
            throw new MemkindOutOfMemoryException(0, "no buffer returned");
        }
        live.add(buffer);
        return buffer;
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
