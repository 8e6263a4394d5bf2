package org.memkind.fixed;

import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One heap in a named POSIX shared memory segment that several processes use at
 * once, whatever their language (C, Python, Rust, Java): memkind's shared kinds
 * (docs/shared.md). Each process maps the segment at an address of its own; a block
 * is named across processes by its <b>offset</b> in the segment, which is the same
 * in every process.
 *
 * <pre>{@code
 * try (SharedKind kind = SharedKind.create(64L << 20)) {   // "/mkf-<pid>-<random>"
 *     ByteBuffer b = kind.allocate(4096);
 *     b.putLong(0, 42);
 *     long offset = kind.offset(b);                       // send kind.name() and offset
 *     ...                                                 // to another process
 *     kind.free(b);
 * }
 * // in the other process
 * try (SharedKind kind = SharedKind.attach(name)) {
 *     ByteBuffer same = kind.buffer(offset, 4096);        // the same bytes
 *     kind.free(same);                                    // any process may free a block
 * }
 * }</pre>
 *
 * <p><b>Buffers.</b> As with {@link FixedKind}, every buffer this kind hands out is
 * counted as live until this process lets go of it, and {@link #close} refuses
 * while any is live (a buffer that outlived the mapping would crash the JVM). A
 * buffer ends in one of two ways: {@link #free} frees its block (whichever process
 * allocated it), or {@link #release} lets go of it without freeing (the block is
 * another process's to free, for example after handing it over). Exactly one
 * process frees a block; across processes that is a protocol the binding cannot
 * enforce, as in C. A {@link #buffer(long, long)} of a block that another process
 * frees must be released before that free.
 *
 * <p><b>Lifetime.</b> {@link #close} detaches this process from the heap
 * (memkind_shared_detach); its blocks stay valid for the other processes. The name
 * stays in /dev/shm until it is unlinked: by {@link #unlink}, by the creator's
 * {@code close()}, or at the creator's exit (a shutdown hook), as Python's
 * SharedKind does. Processes attached already keep the memory; new ones cannot
 * attach. A SharedKind that becomes unreachable without live buffers is detached
 * (and its creator's name unlinked) by a Cleaner.
 *
 * <p>Errors of the library are {@link MemkindException}s with its message and code
 * (for example {@code MEMKIND_ERROR_SHARED_NOT_FOUND} from {@link #attach}). All
 * methods are thread-safe.
 */
public final class SharedKind extends BufferKind {
    /** The start of the names {@link #create(long)} makes: "/mkf-&lt;pid&gt;-&lt;random&gt;",
     *  as Python's SharedKind.create (its shared_cleanup() unlinks those of dead
     *  processes). */
    public static final String NAME_PREFIX = "/mkf-";

    private static final SecureRandom RANDOM = new SecureRandom();

    private final String name;
    private final boolean creator;
    private final Release release;

    /**
     * The cleaning action: detach, and for the creator unlink the name unless that
     * was done already. Must not refer to the SharedKind.
     */
    private static final class Release implements Runnable {
        final Memkind kind;
        final String name;
        /** Set once the name needs no unlinking from here (attached, or done). */
        final AtomicBoolean unlinked;

        Release(Memkind kind, String name, boolean creator) {
            this.kind = kind;
            this.name = name;
            this.unlinked = new AtomicBoolean(!creator);
            if (creator) {
                AtExit.NAMES.add(name);
            }
        }

        /** Unlink the name once; gone already (another process unlinked it) is fine. */
        void unlink() {
            if (unlinked.compareAndSet(false, true)) {
                AtExit.NAMES.remove(name);
                unlinkQuietly(name);
            }
        }

        @Override
        public void run() {
            kind.delete(); // memkind_destroy_kind: memkind_shared_detach for a shared kind
            unlink();
        }
    }

    /** The names this process created and has not unlinked, unlinked at exit. */
    private static final class AtExit {
        static final Set<String> NAMES = ConcurrentHashMap.newKeySet();

        static {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                for (String name : NAMES) {
                    unlinkQuietly(name);
                }
            }, "memkind-fixed shared segment unlink"));
        }
    }

    private static void unlinkQuietly(String name) {
        try {
            MemkindFixed.memkind_shared_unlink(name);
        } catch (MemkindException e) {
            if (e.code() != MemkindFixedConstants.MEMKIND_ERROR_SHARED_NOT_FOUND) {
                throw e;
            }
        }
    }

    private SharedKind(Memkind kind, String name, boolean creator) {
        this(kind, name, creator, new Release(kind, name, creator));
    }

    private SharedKind(Memkind kind, String name, boolean creator, Release release) {
        super(kind, release);
        this.name = name;
        this.creator = creator;
        this.release = release;
    }

    /**
     * Create a shared heap of {@code size} usable bytes (rounded up to whole pages)
     * in a new segment named "/mkf-&lt;pid&gt;-&lt;random&gt;" ({@link #NAME_PREFIX}),
     * and attach to it. {@link #name()} says the name to give other processes.
     */
    public static SharedKind create(long size) {
        byte[] random = new byte[6];
        RANDOM.nextBytes(random);
        return create(NAME_PREFIX + ProcessHandle.current().pid() + "-"
                + HexFormat.of().formatHex(random), size);
    }

    /**
     * Create a shared heap of {@code size} usable bytes (rounded up to whole pages)
     * in a new POSIX shared memory segment {@code name} ("/name", see shm_open(3)),
     * and attach to it (memkind_shared_create). Every page is reserved now, so a
     * full /dev/shm fails here rather than later.
     *
     * @throws MemkindException MEMKIND_ERROR_SHARED_EXISTS (a segment of that name
     *     exists), MEMKIND_ERROR_SHARED_NO_SPACE (the pages could not be reserved),
     *     MEMKIND_ERROR_INVALID (a name shm_open refuses), ...
     * @throws IllegalArgumentException for a size that is not positive
     */
    public static SharedKind create(String name, long size) {
        Objects.requireNonNull(name, "name");
        if (size <= 0) {
            throw new IllegalArgumentException("heap size must be positive: " + size);
        }
        Memkind kind = MemkindFixed.memkind_shared_create(name, size, 0);
        try {
            return new SharedKind(kind, name, true);
        } catch (RuntimeException | Error e) {
            kind.delete();
            unlinkQuietly(name);
            throw e;
        }
    }

    /**
     * Attach to the shared heap {@code name} that another process (or this one)
     * created (memkind_shared_attach). Each call is an attachment of its own, with
     * its own process slot.
     *
     * @throws MemkindException MEMKIND_ERROR_SHARED_NOT_FOUND (no segment of that
     *     name), MEMKIND_ERROR_SHARED_BAD_MAGIC / _VERSION / _SIZE (not a usable
     *     shared heap), MEMKIND_ERROR_SHARED_FULL (no free process slot), ...
     */
    public static SharedKind attach(String name) {
        Objects.requireNonNull(name, "name");
        Memkind kind = MemkindFixed.memkind_shared_attach(name);
        try {
            return new SharedKind(kind, name, false);
        } catch (RuntimeException | Error e) {
            kind.delete();
            throw e;
        }
    }

    /** The segment's POSIX shared memory name, which other processes attach by. */
    public String name() {
        return name;
    }

    /** Whether this SharedKind created the segment (its close() unlinks the name). */
    public boolean isCreator() {
        return creator;
    }

    /**
     * The offset in the segment, the same in every process attached to it, of the
     * first byte of {@code buffer}: a buffer of this heap, or a slice of one.
     *
     * @throws IllegalArgumentException when the buffer's memory is not in this heap
     *     (or it is not a direct buffer)
     */
    public synchronized long offset(ByteBuffer buffer) {
        Objects.requireNonNull(buffer, "buffer");
        long offset = MemkindFixed.memkind_shared_offset(open(), buffer);
        if (offset == 0) {
            throw new IllegalArgumentException("the buffer is not in the shared heap " + name);
        }
        return offset;
    }

    /**
     * A buffer over the {@code size} bytes at {@code offset} of the segment, in this
     * process's mapping: a block (or part of one) that another process allocated
     * and named by its offset ({@link #offset} there, memkind_shared_offset in C,
     * {@code kind.offset()} in Python). The buffer is live until {@link #free}
     * (which frees the block: {@code offset} must then be the block's own) or
     * {@link #release}.
     *
     * @throws IllegalArgumentException when the bytes are not all in the heap, or
     *     {@code size} is negative or above {@link #MAX_BUFFER_SIZE}
     */
    public synchronized ByteBuffer buffer(long offset, long size) {
        requireSize(size);
        return track(MemkindFixed.mkf_shared_block(open(), offset, size));
    }

    /**
     * Let go of a live buffer without freeing its block: the block stays allocated
     * for another process to use and free (after handing it over), or it was a
     * {@link #buffer(long, long)} of a block another process frees. The buffer must
     * not be used afterwards.
     *
     * @throws IllegalArgumentException if {@code buffer} is not a live buffer of this
     *     kind
     */
    public synchronized void release(ByteBuffer buffer) {
        open();
        requireLive(buffer);
        forget(buffer);
    }

    /** The whole heap's statistics and this attachment's, read now
     *  (memkind_shared_get_stats). */
    public synchronized Stats stats() {
        MemkindSharedStats s = MemkindFixed.memkind_shared_get_stats(open());
        try {
            return new Stats(s.getSegmentSize(), s.getCapacity(), s.getUsed(), s.getFree(),
                    s.getLargestFree(), s.getDeadUsed(), s.getProcesses(),
                    s.getDeadProcesses(), s.getRecoveries(), s.getSlot(), s.getProcessUsed(),
                    s.getProcessAllocated(), s.getRemoteFrees());
        } finally {
            s.delete();
        }
    }

    /**
     * This attachment's heap statistics as a {@link FixedKind}'s
     * (memkind_fixed_get_stats): {@code used} is the pages this process holds,
     * {@code failedAllocs} its requests that found no room.
     */
    public FixedKind.Stats attachmentStats() {
        return fixedStats();
    }

    /**
     * Declare the blocks of processes that died or detached garbage and give their
     * pages back to the heap, with the large block each other process keeps parked
     * for reuse (memkind_shared_reclaim). Returns the bytes given back.
     */
    public synchronized long reclaim() {
        return MemkindFixed.memkind_shared_reclaim(open());
    }

    /**
     * Remove the segment's name now (memkind_shared_unlink): attached processes keep
     * the heap, new ones cannot attach. Any attachment may call it; a name that is
     * gone already is no error.
     */
    public void unlink() {
        if (creator) {
            release.unlink();
        } else {
            unlinkQuietly(name);
        }
    }

    @Override
    public synchronized String toString() {
        return isClosed()
                ? "SharedKind[" + name + ", closed]"
                : "SharedKind[" + name + (creator ? ", creator, " : ", ") + capacity()
                        + " bytes, " + liveBuffers() + " live buffers]";
    }

    /**
     * Statistics of a shared heap, in bytes (see memkind_shared_stats in the C
     * header). The first fields are the whole heap's, the last four this
     * attachment's.
     *
     * @param segmentSize the segment: header, page map and heap
     * @param capacity usable bytes of the heap
     * @param used bytes of pages held by some process, dead ones included
     * @param free {@code capacity - used}
     * @param largestFree the largest run of free pages
     * @param deadUsed of {@code used}, the pages held by dead or detached processes
     *     ({@link #reclaim} returns those)
     * @param processes processes attached and alive
     * @param deadProcesses slots of dead or detached processes still holding pages
     * @param recoveries times a process repaired the page map after its lock holder
     *     died
     * @param slot this attachment's process slot
     * @param processUsed bytes of pages this attachment holds
     * @param processAllocated bytes of this attachment's blocks not freed yet
     *     (including blocks other processes freed that it has not taken in)
     * @param remoteFrees blocks other processes freed to this attachment
     */
    public record Stats(
            long segmentSize,
            long capacity,
            long used,
            long free,
            long largestFree,
            long deadUsed,
            long processes,
            long deadProcesses,
            long recoveries,
            long slot,
            long processUsed,
            long processAllocated,
            long remoteFrees) {}
}
