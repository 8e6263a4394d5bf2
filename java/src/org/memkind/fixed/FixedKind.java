package org.memkind.fixed;

import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.util.Objects;

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
public final class FixedKind extends BufferKind {
    /** Whether the region was mapped by map() or is the caller's, and its size: for
     *  toString. */
    private final boolean mapped;
    private final long size;

    /**
     * The library's kind over a region, and how to release both: the cleaning
     * action, which must not refer to the FixedKind. A kind is destroyed before its
     * region goes: by close() or, for a kind that became unreachable without live
     * buffers, by the cleaner. For a caller's region, {@code callerRegion} keeps the
     * caller's ByteBuffer (and so its memory) reachable until then.
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
        super(heap.kind, heap);
        this.mapped = heap.mapped;
        this.size = heap.size;
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

    /** The region's statistics now (memkind_fixed_get_stats). */
    public Stats stats() {
        return fixedStats();
    }

    @Override
    public synchronized String toString() {
        return isClosed()
                ? "FixedKind[closed]"
                : "FixedKind[" + (mapped ? "mapped" : "caller's") + " region of "
                        + size + " bytes, " + liveBuffers() + " live buffers]";
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
