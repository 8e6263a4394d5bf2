package org.memkind.fixed;

import java.lang.ref.WeakReference;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.memkind.fixed.Harness.check;
import static org.memkind.fixed.Harness.expect;
import static org.memkind.fixed.Harness.finish;
import static org.memkind.fixed.Harness.run;

/**
 * Tests of FixedKind and the SWIG-generated layer under it, on the plain Harness:
 * the last line is "N passed, N failed"; the exit status is 0 only when nothing
 * failed.
 *
 * In the package of the classes under test, to reach the generated low-level API
 * (memkind_detect_kind, the Memkind handle).
 */
public final class FixedKindTest {
    private static final int KIB = 1024;
    private static final int MIB = 1024 * 1024;
    /** Marks the first 8 bytes of a test buffer: MAGIC in the high half, index in the low. */
    private static final long MAGIC = 0x4d4b4658L; // "MKFX"

    public static void main(String[] args) {
        run("allocations lie inside a caller's region", FixedKindTest::allocationsInsideCallersRegion);
        run("allocations lie inside a mapped region", FixedKindTest::allocationsInsideMappedRegion);
        run("exhaustion raises MemkindOutOfMemoryException", FixedKindTest::exhaustion);
        run("close refuses while buffers are live", FixedKindTest::closeWithLiveBuffers);
        run("1000 buffers read back, inside the region", FixedKindTest::thousandBuffers);
        run("errors carry code and message", FixedKindTest::errors);
        run("free rejects foreign and freed buffers", FixedKindTest::freeChecks);
        run("zeroed, aligned, reallocated, empty buffers", FixedKindTest::otherAllocators);
        run("stats follow allocations", FixedKindTest::stats);
        run("threads allocate and free concurrently", FixedKindTest::threads);
        run("sizes above 2 GiB: regions, stats, buffer limit", FixedKindTest::sizesAboveTwoGiB);
        run("generated classes have no finalizer", FixedKindTest::noFinalizers);
        run("a dropped kind without live buffers is destroyed", FixedKindTest::droppedKindIsDestroyed);
        run("a live buffer keeps its kind through GC", FixedKindTest::bufferKeepsItsKind);
        // Last: before buffers kept their region, this one crashed the JVM.
        run("a live buffer keeps its region through GC", FixedKindTest::bufferKeepsItsRegion);
        finish();
    }

    /** Whether the library says that `buffer` belongs to `kind`'s regions. */
    private static boolean ownedBy(FixedKind kind, ByteBuffer buffer) {
        Memkind owner = MemkindFixed.memkind_detect_kind(buffer);
        return owner != null && Memkind.getCPtr(owner) == Memkind.getCPtr(kind.handle());
    }

    /** Fill `b` with a pattern derived from `seed`, its first 8 bytes the marker. */
    private static void fill(ByteBuffer b, int seed) {
        for (int i = 8; i < b.capacity(); i++) {
            b.put(i, (byte) (seed * 31 + i));
        }
        b.order(ByteOrder.nativeOrder()).putLong(0, (MAGIC << 32) | seed);
    }

    private static boolean holds(ByteBuffer b, int seed) {
        if (b.order(ByteOrder.nativeOrder()).getLong(0) != ((MAGIC << 32) | seed)) {
            return false;
        }
        for (int i = 8; i < b.capacity(); i++) {
            if (b.get(i) != (byte) (seed * 31 + i)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Proves, without addresses, that each buffer lies in `region`: finds each
     * buffer's marker in the region, then checks that a byte written through the
     * region shows through the buffer. Returns the number of buffers found.
     */
    private static int findInRegion(ByteBuffer region, List<ByteBuffer> buffers) {
        ByteBuffer view = region.duplicate().order(ByteOrder.nativeOrder());
        int[] offset = new int[buffers.size()];
        java.util.Arrays.fill(offset, -1);
        for (int off = 0; off + 8 <= view.capacity(); off++) {
            long v = view.getLong(off);
            if ((v >>> 32) == MAGIC) {
                int index = (int) v;
                if (index >= 0 && index < offset.length && offset[index] < 0) {
                    offset[index] = off;
                }
            }
        }
        int found = 0;
        for (int i = 0; i < buffers.size(); i++) {
            ByteBuffer b = buffers.get(i);
            if (offset[i] < 0 || offset[i] + b.capacity() > view.capacity()) {
                continue;
            }
            byte old = view.get(offset[i] + b.capacity() - 1);
            view.put(offset[i] + b.capacity() - 1, (byte) (old ^ 0x5a));
            boolean aliased = b.get(b.capacity() - 1) == (byte) (old ^ 0x5a);
            view.put(offset[i] + b.capacity() - 1, old);
            if (aliased) {
                found++;
            }
        }
        return found;
    }

    /**
     * Runs the collector until objects that became unreachable before the call are
     * gone and their finalizers and cleaners had time to run, with allocation
     * pressure on the Java heap and on native memory (direct buffers, written to, so
     * that memory the JDK freed is reused and overwritten).
     */
    private static void collectGarbage() throws InterruptedException {
        for (int round = 0; round < 10; round++) {
            WeakReference<Object> sentinel = new WeakReference<>(new Object());
            List<Object> pressure = new ArrayList<>();
            while (sentinel.get() != null) {
                pressure.add(new byte[64 * KIB]);
                System.gc();
            }
            System.runFinalization();
            for (int i = 0; i < 8; i++) {
                ByteBuffer junk = ByteBuffer.allocateDirect(MIB);
                for (int off = 0; off + 8 <= junk.capacity(); off += 512) {
                    junk.putLong(off, -1L);
                }
                pressure.add(junk);
            }
            pressure.clear();
            Thread.sleep(10);
        }
    }

    /**
     * Makes a kind over `region` and a buffer of `size` bytes in it filled with
     * `seed`'s pattern, then drops the kind without freeing or closing: only the
     * buffer (and the returned weak reference to the kind) leave this method.
     */
    private static ByteBuffer liveBufferOfDroppedKind(ByteBuffer region, int size, int seed,
            List<WeakReference<FixedKind>> kinds) {
        FixedKind kind = FixedKind.over(region);
        ByteBuffer b = kind.allocate(size);
        fill(b, seed);
        kinds.add(new WeakReference<>(kind));
        return b;
    }

    private static void freeAll(FixedKind kind, List<ByteBuffer> buffers) {
        for (ByteBuffer b : buffers) {
            kind.free(b);
        }
        buffers.clear();
    }

    // ------------------------------------------------------------------ tests

    static void allocationsInsideCallersRegion() {
        ByteBuffer region = ByteBuffer.allocateDirect(4 * MIB);
        try (FixedKind kind = FixedKind.over(region)) {
            List<ByteBuffer> buffers = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                ByteBuffer b = kind.allocate(16 + 97 * i);
                check(b.isDirect() && b.capacity() == 16 + 97 * i, "direct, of the requested size");
                check(ownedBy(kind, b), "the library places buffer " + i + " in the kind");
                fill(b, i);
                buffers.add(b);
            }
            check(findInRegion(region, buffers) == 100, "all 100 buffers found in the region");
            check(kind.liveBuffers() == 100, "100 live buffers");
            freeAll(kind, buffers);
        }
    }

    static void allocationsInsideMappedRegion() {
        try (FixedKind kind = FixedKind.map(8 * MIB)) {
            check(kind.capacity() == 8 * MIB, "capacity is the mapped size: " + kind.capacity());
            ByteBuffer b = kind.allocate(64 * KIB);
            check(ownedBy(kind, b), "buffer belongs to the mapped kind");
            fill(b, 7);
            check(holds(b, 7), "reads back");
            ByteBuffer outside = ByteBuffer.allocateDirect(64);
            check(!ownedBy(kind, outside), "a JDK buffer does not belong to the kind");
            kind.free(b);
        }
    }

    static void exhaustion() throws Exception {
        try (FixedKind kind = FixedKind.map(MIB)) {
            List<ByteBuffer> buffers = new ArrayList<>();
            MemkindOutOfMemoryException oom = expect(MemkindOutOfMemoryException.class, () -> {
                for (int i = 0; i < 1000; i++) {
                    buffers.add(kind.allocate(64 * KIB));
                }
            });
            check(oom.code() > 0, "ENOMEM is a positive errno: " + oom.code());
            check(oom.getMessage() != null && !oom.getMessage().isEmpty(), "has a message");
            check(buffers.size() >= 8 && buffers.size() <= 16, "a 1 MiB region held " + buffers.size() + " x 64 KiB");
            check(kind.stats().failedAllocs() >= 1, "the failure is counted");
            expect(MemkindOutOfMemoryException.class, () -> kind.allocate(2 * MIB));
            kind.free(buffers.remove(buffers.size() - 1));
            buffers.add(kind.allocate(64 * KIB)); // freed room serves again
            freeAll(kind, buffers);
        }
    }

    static void closeWithLiveBuffers() throws Exception {
        FixedKind kind = FixedKind.map(MIB);
        ByteBuffer a = kind.allocate(100);
        ByteBuffer b = kind.allocate(200);
        IllegalStateException refused = expect(IllegalStateException.class, kind::close);
        check(refused.getMessage().contains("2 buffer"), "says how many: " + refused.getMessage());
        check(!kind.isClosed(), "still open after the refusal");
        fill(a, 1);
        check(holds(a, 1), "buffers still work after the refusal");
        kind.free(a);
        expect(IllegalStateException.class, kind::close);
        kind.free(b);
        kind.close();
        check(kind.isClosed(), "closed");
        kind.close(); // twice: nothing
        expect(IllegalStateException.class, () -> kind.allocate(1));
        expect(IllegalStateException.class, kind::stats);
    }

    static void thousandBuffers() {
        // A caller's region: proven by finding each buffer's bytes in the region.
        ByteBuffer region = ByteBuffer.allocateDirect(16 * MIB);
        try (FixedKind kind = FixedKind.over(region)) {
            List<ByteBuffer> buffers = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                ByteBuffer b = kind.allocate(16 + (i * 37) % 4096);
                fill(b, i);
                buffers.add(b);
            }
            for (int i = 0; i < 1000; i++) {
                check(holds(buffers.get(i), i), "buffer " + i + " reads back");
            }
            check(findInRegion(region, buffers) == 1000, "all 1000 buffers lie in the region");
            freeAll(kind, buffers);
        }
        // A mapped region: the library places every buffer in the kind.
        try (FixedKind kind = FixedKind.map(16 * MIB)) {
            List<ByteBuffer> buffers = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                ByteBuffer b = kind.allocate(16 + (i * 53) % 8192);
                fill(b, i);
                buffers.add(b);
            }
            for (int i = 0; i < 1000; i++) {
                check(holds(buffers.get(i), i), "mapped buffer " + i + " reads back");
                check(ownedBy(kind, buffers.get(i)), "mapped buffer " + i + " is in the kind");
            }
            freeAll(kind, buffers);
        }
    }

    static void errors() throws Exception {
        expect(IllegalArgumentException.class, () -> FixedKind.over(ByteBuffer.allocate(MIB)));
        expect(IllegalArgumentException.class,
                () -> FixedKind.over(ByteBuffer.allocateDirect(MIB).asReadOnlyBuffer()));
        MemkindException small = expect(MemkindException.class,
                () -> FixedKind.over(ByteBuffer.allocateDirect(100)));
        check(small.code() == MemkindFixedConstants.MEMKIND_ERROR_REGION_TOO_SMALL,
                "too small: " + small.code());
        check(!(small instanceof MemkindOutOfMemoryException), "not an out-of-memory error");
        check(small.getMessage().length() > 10, "has the library's sentence: " + small.getMessage());
        check(small.getMessage().equals(MemkindFixed.memkind_error_message(small.code())
                + " (code " + small.code() + ")"), "message is memkind_error_message()'s");

        ByteBuffer region = ByteBuffer.allocateDirect(MIB);
        try (FixedKind kind = FixedKind.over(region)) {
            MemkindException overlap = expect(MemkindException.class, () -> FixedKind.over(region));
            check(overlap.code() == MemkindFixedConstants.MEMKIND_ERROR_REGION_OVERLAP,
                    "overlap: " + overlap.code());
            MemkindException align = expect(MemkindException.class, () -> kind.allocateAligned(3, 64));
            check(align.code() > 0 && !(align instanceof MemkindOutOfMemoryException),
                    "bad alignment is EINVAL: " + align.code());
            expect(IllegalArgumentException.class, () -> kind.allocate(-1));
        }
        // The region is free again once its kind is closed.
        try (FixedKind again = FixedKind.over(region)) {
            again.free(again.allocate(10));
        }
        expect(IllegalArgumentException.class, () -> FixedKind.map(0));
    }

    static void freeChecks() throws Exception {
        try (FixedKind one = FixedKind.map(MIB); FixedKind two = FixedKind.map(MIB)) {
            ByteBuffer b = one.allocate(64);
            expect(IllegalArgumentException.class, () -> two.free(b));
            expect(IllegalArgumentException.class, () -> one.free(b.duplicate()));
            expect(IllegalArgumentException.class, () -> one.free(ByteBuffer.allocateDirect(64)));
            expect(IllegalArgumentException.class, () -> one.free(null));
            one.free(b);
            expect(IllegalArgumentException.class, () -> one.free(b));
        }
    }

    static void otherAllocators() {
        try (FixedKind kind = FixedKind.map(4 * MIB)) {
            ByteBuffer dirty = kind.allocate(4096);
            for (int i = 0; i < 4096; i++) {
                dirty.put(i, (byte) 0xff);
            }
            kind.free(dirty);
            ByteBuffer zero = kind.allocateZeroed(4096);
            for (int i = 0; i < 4096; i++) {
                check(zero.get(i) == 0, "zeroed at " + i);
            }
            ByteBuffer aligned = kind.allocateAligned(4096, 100);
            check(aligned.capacity() == 100 && ownedBy(kind, aligned), "aligned buffer in the kind");

            ByteBuffer small = kind.allocate(32);
            fill(small, 5);
            ByteBuffer grown = kind.reallocate(small, 100 * KIB);
            check(grown.capacity() == 100 * KIB, "grown to the new size");
            check(grown.order(ByteOrder.nativeOrder()).getLong(0) == ((MAGIC << 32) | 5), "contents kept");
            check(kind.liveBuffers() == 3, "the old buffer is no longer live: " + kind.liveBuffers());

            ByteBuffer empty = kind.allocate(0);
            check(empty.capacity() == 0, "an empty buffer");
            check(kind.liveBuffers() == 4, "and it counts as live");
            for (ByteBuffer b : new ByteBuffer[] {zero, aligned, grown, empty}) {
                kind.free(b);
            }
        }
    }

    static void stats() {
        try (FixedKind kind = FixedKind.map(4 * MIB)) {
            FixedKind.Stats before = kind.stats();
            check(before.capacity() == 4 * MIB && before.regions() == 1, "fresh: " + before);
            List<ByteBuffer> buffers = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                buffers.add(kind.allocate(64 * KIB));
            }
            FixedKind.Stats during = kind.stats();
            check(during.allocated() >= 640 * KIB, "allocated counts the buffers: " + during);
            check(during.used() >= during.allocated() && during.used() <= during.capacity(),
                    "used between allocated and capacity: " + during);
            check(during.resident() <= during.capacity(), "resident within the region: " + during);
            freeAll(kind, buffers);
            kind.purge();
            FixedKind.Stats after = kind.stats();
            check(after.allocated() < during.allocated(), "freed: " + after);
            check(after.peakUsed() >= during.used(), "peak kept: " + after);
        }
    }

    static void threads() throws Exception {
        try (FixedKind kind = FixedKind.map(32 * MIB)) {
            AtomicInteger errors = new AtomicInteger();
            List<ByteBuffer> handoff = java.util.Collections.synchronizedList(new ArrayList<>());
            Thread[] workers = new Thread[4];
            for (int t = 0; t < workers.length; t++) {
                final int id = t;
                workers[t] = new Thread(() -> {
                    try {
                        for (int i = 0; i < 2000; i++) {
                            ByteBuffer b = kind.allocate(32 + (i % 512));
                            fill(b, id * 100000 + i);
                            if (!holds(b, id * 100000 + i)) {
                                errors.incrementAndGet();
                            }
                            if (i % 2 == 0) {
                                kind.free(b);
                            } else {
                                handoff.add(b); // freed by the main thread
                            }
                        }
                    } catch (RuntimeException e) {
                        errors.incrementAndGet();
                    }
                });
                workers[t].start();
            }
            for (Thread w : workers) {
                w.join();
            }
            check(errors.get() == 0, errors.get() + " errors in workers");
            check(handoff.size() == 4000 && kind.liveBuffers() == 4000, "handed over: " + handoff.size());
            for (ByteBuffer b : handoff) {
                kind.free(b);
            }
        }
    }

    static void noFinalizers() {
        for (Class<?> c : new Class<?>[] {Memkind.class, MemkindFixedStats.class, FixedKind.class}) {
            for (Method m : c.getDeclaredMethods()) {
                check(!m.getName().equals("finalize"), c.getSimpleName() + " declares finalize()");
            }
        }
    }

    static void droppedKindIsDestroyed() throws Exception {
        ByteBuffer region = ByteBuffer.allocateDirect(MIB);
        List<WeakReference<FixedKind>> kinds = new ArrayList<>();
        ByteBuffer freed = liveBufferOfDroppedKind(region, 64, 1, kinds);
        kinds.get(0).get().free(freed);
        freed = null;
        // No buffer is live: once the FixedKind is unreachable, its kind is destroyed
        // and the region can take a new kind.
        FixedKind again = null;
        for (int round = 0; round < 20 && again == null; round++) {
            collectGarbage();
            try {
                again = FixedKind.over(region);
            } catch (MemkindException e) {
                check(e.code() == MemkindFixedConstants.MEMKIND_ERROR_REGION_OVERLAP, "overlap: " + e);
            }
        }
        check(kinds.get(0).get() == null, "the dropped FixedKind was collected");
        check(again != null, "the region takes a new kind after the dropped one is collected");
        again.free(again.allocate(10));
        again.close();
    }

    static void bufferKeepsItsKind() throws Exception {
        ByteBuffer region = ByteBuffer.allocateDirect(MIB);
        List<WeakReference<FixedKind>> kinds = new ArrayList<>();
        ByteBuffer b = liveBufferOfDroppedKind(region, 4 * KIB, 11, kinds);
        collectGarbage();
        // A kind over the same region would hand out the buffer's bytes again.
        MemkindException overlap = expect(MemkindException.class, () -> {
            FixedKind thief = FixedKind.over(region);
            for (int i = 0; i < 64; i++) {
                fill(thief.allocate(4 * KIB), 1000 + i); // left live: the test failed
            }
        });
        check(overlap.code() == MemkindFixedConstants.MEMKIND_ERROR_REGION_OVERLAP, "overlap: " + overlap);
        check(holds(b, 11), "the buffer's bytes are intact after GC");
        check(MemkindFixed.memkind_detect_kind(b) != null, "the library still has the buffer's kind");
        FixedKind kind = kinds.get(0).get();
        check(kind != null && kind.liveBuffers() == 1, "the buffer keeps its FixedKind reachable");
        kind.free(b);
        kind.close();
        try (FixedKind again = FixedKind.over(region)) {
            again.free(again.allocate(10));
        }
    }

    static void bufferKeepsItsRegion() throws Exception {
        // Regions that only the kinds (and through them the buffers) reach: when the
        // JDK frees a region, its memory goes back to malloc, or is unmapped.
        List<WeakReference<FixedKind>> kinds = new ArrayList<>();
        List<ByteBuffer> buffers = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            buffers.add(liveBufferOfDroppedKind(ByteBuffer.allocateDirect(MIB), 64 * KIB, 20 + i, kinds));
        }
        collectGarbage();
        for (int i = 0; i < buffers.size(); i++) {
            ByteBuffer b = buffers.get(i);
            check(holds(b, 20 + i), "buffer " + i + "'s bytes are intact");
            check(MemkindFixed.memkind_detect_kind(b) != null, "buffer " + i + "'s kind is alive");
        }
        for (int i = 0; i < buffers.size(); i++) {
            FixedKind kind = kinds.get(i).get();
            check(kind != null, "buffer " + i + " keeps its FixedKind reachable");
            kind.free(buffers.get(i));
            kind.close();
        }
    }

    static void sizesAboveTwoGiB() throws Exception {
        long gib = 1L << 30;
        // A mapped region of 4 GiB (reserved, not touched: only written pages count).
        try (FixedKind kind = FixedKind.map(4 * gib)) {
            check(kind.capacity() == 4 * gib, "capacity of a 4 GiB region: " + kind.capacity());
            ByteBuffer largest = kind.allocate(FixedKind.MAX_BUFFER_SIZE);
            check(largest.capacity() == Integer.MAX_VALUE, "the largest buffer: " + largest.capacity());
            ByteBuffer more = kind.allocate(gib);
            largest.put(Integer.MAX_VALUE - 1, (byte) 7);
            more.put((int) gib - 1, (byte) 9);
            check(ownedBy(kind, largest) && ownedBy(kind, more), "both in the kind");
            FixedKind.Stats stats = kind.stats();
            check(stats.allocated() >= 3 * gib - 1, "3 GiB allocated: " + stats);
            check(kind.toString().contains(4 * gib + " bytes"), "toString: " + kind);

            // Fits the region, but no ByteBuffer can hold it: refused before the heap
            // is asked, with the limit in the message.
            IllegalArgumentException tooBig = expect(IllegalArgumentException.class,
                    () -> kind.allocate(FixedKind.MAX_BUFFER_SIZE + 1));
            check(tooBig.getMessage().contains("at most " + Integer.MAX_VALUE), tooBig.getMessage());
            expect(IllegalArgumentException.class, () -> kind.allocateZeroed(2 * gib));
            expect(IllegalArgumentException.class, () -> kind.allocateAligned(4096, 2 * gib));
            expect(IllegalArgumentException.class, () -> kind.reallocate(more, 3 * gib));
            check(kind.liveBuffers() == 2 && more.get((int) gib - 1) == 9,
                    "a refused reallocate leaves the buffer as it was");
            check(kind.stats().failedAllocs() == stats.failedAllocs(), "the heap was not asked");
            kind.free(largest);
            kind.free(more);
        }
        try (FixedKind small = FixedKind.map(MIB)) {
            // The largest buffer is a request like any other: no room in 1 MiB.
            expect(MemkindOutOfMemoryException.class, () -> small.allocate(FixedKind.MAX_BUFFER_SIZE));
            // 4 GiB would be 0 as an int, 4 GiB - 1 would be -1: neither is.
            expect(IllegalArgumentException.class, () -> small.allocate(4 * gib));
            expect(IllegalArgumentException.class, () -> small.allocate(4 * gib - 1));
            expect(IllegalArgumentException.class, () -> small.allocate(Long.MAX_VALUE));
            expect(IllegalArgumentException.class, () -> small.allocate(-1L));
            check(small.liveBuffers() == 0, "nothing allocated");
        }
        expect(IllegalArgumentException.class, () -> FixedKind.map(-gib));
    }
}
