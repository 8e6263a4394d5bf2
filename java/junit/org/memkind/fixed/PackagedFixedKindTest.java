package org.memkind.fixed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * JUnit tests that `mvn install` runs on the project java/package.sh writes: the JNI
 * library comes from the jar's resources (no java.library.path), and FixedKind works
 * through it. The full suite is java/test's FixedKindTest (Bazel); these are the
 * checks that matter for the package. In the package under test, to read buffer
 * addresses (MemkindFixed.mkf_buffer_address).
 */
class PackagedFixedKindTest {
    private static final int MIB = 1 << 20;
    private static final int EINVAL = 22;
    private static final int ENOMEM = 12;

    private static long address(ByteBuffer b) {
        return MemkindFixed.mkf_buffer_address(b);
    }

    @Test
    void libraryIsLoadedFromTheJar() {
        try (FixedKind kind = FixedKind.map(MIB)) {
            assertTrue(kind.capacity() > 0);
        }
        if (System.getProperty(NativeLibrary.LIBRARY_PROPERTY) == null) {
            assertEquals("jar", NativeLibrary.source());
        }
        assertEquals(NativeLibrary.FILE_NAME, System.mapLibraryName("memkind_fixed_jni"));
        assertTrue(NativeLibrary.class.getResource(NativeLibrary.resourceName()) != null,
                "the project carries " + NativeLibrary.resourceName());
    }

    @Test
    void allocationsLieInsideTheRegion() {
        ByteBuffer region = ByteBuffer.allocateDirect(4 * MIB);
        long start = address(region);
        long end = start + region.capacity();
        List<ByteBuffer> buffers = new ArrayList<>();
        try (FixedKind kind = FixedKind.over(region)) {
            for (int i = 0; i < 200; i++) {
                ByteBuffer b = kind.allocate(1 + 131 * i);
                assertTrue(b.isDirect());
                assertEquals(1 + 131 * i, b.capacity());
                long at = address(b);
                assertTrue(at >= start && at + b.capacity() <= end,
                        "buffer " + i + " at " + Long.toHexString(at) + " outside ["
                                + Long.toHexString(start) + ", " + Long.toHexString(end) + ")");
                buffers.add(b);
            }
            assertEquals(200, kind.liveBuffers());
            for (ByteBuffer b : buffers) {
                kind.free(b);
            }
            assertEquals(0, kind.liveBuffers());
        }
    }

    @Test
    void buffersKeepTheirContents() {
        try (FixedKind kind = FixedKind.map(8 * MIB)) {
            ByteBuffer zeroed = kind.allocateZeroed(100_000);
            assertArrayEquals(new byte[100_000], contents(zeroed));

            ByteBuffer a = kind.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer b = kind.allocate(4096);
            for (int i = 0; i < 512; i++) {
                a.putLong(8 * i, 0x0123456789abcdefL * i);
                b.putLong(8 * i, -i);
            }
            for (int i = 0; i < 512; i++) {
                assertEquals(0x0123456789abcdefL * i, a.getLong(8 * i));
                assertEquals(-i, b.getLong(8 * i));
            }
            // Growing keeps the first 4096 bytes.
            ByteBuffer grown = kind.reallocate(a, 1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < 512; i++) {
                assertEquals(0x0123456789abcdefL * i, grown.getLong(8 * i));
            }
            FixedKind.Stats stats = kind.stats();
            assertTrue(stats.used() >= 100_000 + 4096 + (1 << 20), "used " + stats.used());
            kind.free(grown);
            kind.free(b);
            kind.free(zeroed);
        }
    }

    @Test
    void badInputIsRefused() {
        try (FixedKind kind = FixedKind.map(MIB)) {
            assertThrows(IllegalArgumentException.class, () -> kind.allocate(-1));
            assertThrows(IllegalArgumentException.class, () -> kind.allocate(4L << 30));
            MemkindException badAlignment =
                    assertThrows(MemkindException.class, () -> kind.allocateAligned(24, 64));
            assertEquals(EINVAL, badAlignment.code());
            MemkindOutOfMemoryException full =
                    assertThrows(MemkindOutOfMemoryException.class, () -> kind.allocate(2 * MIB));
            assertEquals(ENOMEM, full.code());
            assertThrows(IllegalArgumentException.class,
                    () -> kind.free(ByteBuffer.allocateDirect(16)));

            ByteBuffer b = kind.allocate(64);
            assertThrows(IllegalStateException.class, kind::close);
            kind.free(b);
            assertThrows(IllegalArgumentException.class, () -> kind.free(b));
        }
        assertThrows(IllegalArgumentException.class, () -> FixedKind.over(ByteBuffer.allocate(MIB)));
        assertThrows(IllegalArgumentException.class, () -> FixedKind.map(0));
        MemkindException tooSmall = assertThrows(MemkindException.class,
                () -> FixedKind.over(ByteBuffer.allocateDirect(100)));
        assertEquals(MemkindFixedConstants.MEMKIND_ERROR_REGION_TOO_SMALL, tooSmall.code());
    }

    private static byte[] contents(ByteBuffer b) {
        byte[] bytes = new byte[b.capacity()];
        b.duplicate().clear().get(bytes);
        return bytes;
    }
}
