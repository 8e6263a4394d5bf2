package org.memkind.fixed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * SharedKind through the jar's JNI library: two attachments of one heap in this
 * JVM, a block named by its offset, a free by the other attachment, the library's
 * errors. Java with another process on one heap is java/test's SharedKindTest
 * (Bazel, with a C peer).
 */
class PackagedSharedKindTest {
    private static final int MIB = 1 << 20;

    @Test
    void twoAttachmentsShareOneHeap() {
        String name;
        try (SharedKind kind = SharedKind.create(8 * MIB)) {
            name = kind.name();
            assertTrue(Files.exists(Path.of("/dev/shm", name.substring(1))), name);
            ByteBuffer b = kind.allocate(10_000);
            for (int i = 0; i < b.capacity(); i++) {
                b.put(i, (byte) (i * 13));
            }
            long offset = kind.offset(b);
            kind.release(b); // handed over: the other attachment frees it
            try (SharedKind other = SharedKind.attach(name)) {
                ByteBuffer same = other.buffer(offset, 10_000);
                assertNotEquals(MemkindFixed.mkf_buffer_address(b), MemkindFixed.mkf_buffer_address(same));
                for (int i = 0; i < same.capacity(); i++) {
                    assertEquals((byte) (i * 13), same.get(i));
                }
                assertEquals(offset, other.offset(same));
                assertEquals(2, other.stats().processes());
                other.free(same);
            }
            assertEquals(1, kind.stats().processes());
        }
        assertFalse(Files.exists(Path.of("/dev/shm", name.substring(1))), "unlinked by close");
    }

    @Test
    void errorsCarryTheLibrarysCode() {
        MemkindException missing = assertThrows(MemkindException.class,
                () -> SharedKind.attach(SharedKind.NAME_PREFIX + "no-such-heap"));
        assertEquals(MemkindFixedConstants.MEMKIND_ERROR_SHARED_NOT_FOUND, missing.code());
        try (SharedKind kind = SharedKind.create(MIB)) {
            MemkindException exists = assertThrows(MemkindException.class,
                    () -> SharedKind.create(kind.name(), MIB));
            assertEquals(MemkindFixedConstants.MEMKIND_ERROR_SHARED_EXISTS, exists.code());
            assertThrows(IllegalArgumentException.class, () -> kind.offset(ByteBuffer.allocateDirect(8)));
            assertThrows(IllegalArgumentException.class, () -> kind.buffer(1, 8));
            ByteBuffer b = kind.allocate(64);
            assertThrows(IllegalStateException.class, kind::close);
            kind.free(b);
        }
    }
}
