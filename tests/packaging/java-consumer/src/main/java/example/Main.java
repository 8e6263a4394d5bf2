package example;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import org.memkind.fixed.FixedKind;
import org.memkind.fixed.MemkindOutOfMemoryException;
import org.memkind.fixed.SharedKind;

/**
 * Uses memkind-fixed through its public API only, and checks what it gets: buffers
 * inside the region, their contents, the error for a full region, a block of a
 * shared heap found by its offset through a second attachment. Prints one line
 * per check, then "OK"; exits 1 at the first failed check. The first line names the
 * file the JNI library was mapped from (/proc/self/maps), which
 * tests/packaging/java.sh checks.
 */
public final class Main {
    private static final long MARKER = 0x6d6b662d6a617661L; // "mkf-java"

    public static void main(String[] args) throws IOException {
        ByteBuffer region = ByteBuffer.allocateDirect(8 << 20);
        try (FixedKind kind = FixedKind.over(region)) {
            // The first call into the library loaded it: say from where.
            System.out.println("loaded: " + mappedLibrary());

            ByteBuffer b = kind.allocate(4096).order(ByteOrder.nativeOrder());
            check(b.isDirect() && b.capacity() == 4096, "a direct buffer of 4096 bytes");
            b.putLong(0, MARKER);
            for (int i = 8; i < 4096; i++) {
                b.put(i, (byte) i);
            }
            int offset = find(region, MARKER);
            check(offset >= 0 && offset + 4096 <= region.capacity(), "the buffer's marker is in the region");
            // The same bytes: a write through the region shows through the buffer.
            region.put(offset + 4095, (byte) 0x5a);
            check(b.get(4095) == 0x5a, "the buffer aliases the region at offset " + offset);
            for (int i = 8; i < 4095; i++) {
                check(b.get(i) == (byte) i, "byte " + i + " reads back");
            }
            System.out.println("region: buffer of 4096 bytes at offset " + offset + " of "
                    + region.capacity() + ", contents read back");
            kind.free(b);
        }

        try (FixedKind kind = FixedKind.map(64L << 20)) {
            List<ByteBuffer> buffers = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                ByteBuffer b = kind.allocateZeroed(1024);
                check(b.getLong(0) == 0 && b.getLong(1016) == 0, "a zeroed buffer");
                b.putInt(0, i);
                b.putInt(1020, -i);
                buffers.add(b);
            }
            long used = kind.stats().used();
            check(used >= 1000 * 1024, "stats count the buffers: " + used);
            for (int i = 0; i < buffers.size(); i++) {
                check(buffers.get(i).getInt(0) == i && buffers.get(i).getInt(1020) == -i,
                        "buffer " + i + " reads back");
            }
            System.out.println("mapped: 1000 buffers of 1024 bytes read back, " + used
                    + " bytes used of " + kind.capacity());
            try {
                kind.allocate(128L << 20);
                check(false, "a request larger than the region fails");
            } catch (MemkindOutOfMemoryException e) {
                System.out.println("full: MemkindOutOfMemoryException code " + e.code());
            }
            for (ByteBuffer b : buffers) {
                kind.free(b);
            }
            check(kind.liveBuffers() == 0, "all freed");
        }

        // A shared heap: a block written through one attachment, found by its offset
        // and freed through another (as another process would).
        try (SharedKind kind = SharedKind.create(16L << 20)) {
            ByteBuffer b = kind.allocate(8192).order(ByteOrder.nativeOrder());
            b.putLong(0, MARKER);
            b.putLong(8184, ~MARKER);
            long offset = kind.offset(b);
            kind.release(b);
            try (SharedKind other = SharedKind.attach(kind.name())) {
                ByteBuffer same = other.buffer(offset, 8192).order(ByteOrder.nativeOrder());
                check(same.getLong(0) == MARKER && same.getLong(8184) == ~MARKER,
                        "the block reads back at offset " + offset + " through another attachment");
                check(other.stats().processes() == 2, "two attachments");
                other.free(same);
            }
            System.out.println("shared: a block of 8192 bytes at offset " + offset
                    + " read back and freed through a second attachment of " + kind.name());
        }
        System.out.println("OK");
    }

    private static int find(ByteBuffer region, long marker) {
        ByteBuffer view = region.duplicate().order(ByteOrder.nativeOrder());
        for (int off = 0; off + 8 <= view.capacity(); off += 8) {
            if (view.getLong(off) == marker) {
                return off;
            }
        }
        return -1;
    }

    private static String mappedLibrary() throws IOException {
        return Files.readAllLines(Paths.get("/proc/self/maps")).stream()
                .filter(line -> line.contains("libmemkind_fixed_jni"))
                .map(line -> line.substring(line.indexOf('/')))
                .findFirst()
                .orElse("(not mapped)");
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            System.out.println("FAILED: " + what);
            System.exit(1);
        }
    }
}
