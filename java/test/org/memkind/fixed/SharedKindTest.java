package org.memkind.fixed;

import static org.memkind.fixed.Harness.check;
import static org.memkind.fixed.Harness.expect;
import static org.memkind.fixed.Harness.finish;
import static org.memkind.fixed.Harness.run;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Tests of SharedKind, on the plain Harness. Two of them share one heap with
 * another process, for each peer program named on the command line: a C program
 * (java/test/shared_peer.c, the C API only) and a Python one (shared_peer.py, the
 * repository's Python package; run with python3). The Java process creates the
 * heap and the peer attaches, then the other way round; each allocates, writes,
 * hands offsets over, reads what the other wrote and frees the other's blocks.
 *
 * <p>{@code SharedKindTest PEER...}; with {@code --exit-without-close NAME} it is
 * the child of the test that a creator's name is unlinked at exit.
 */
public final class SharedKindTest {
    private static final int KIB = 1024;
    private static final int MIB = 1024 * 1024;
    /** What SharedKind.create(size) names start with in this process. */
    private static final String MADE_PREFIX = SharedKind.NAME_PREFIX + ProcessHandle.current().pid() + "-";
    /**
     * The names this test gives: unique to the run, since a pid is not (Bazel's
     * sandbox gives each test a PID namespace, so concurrent tests can share a pid
     * but not /dev/shm).
     */
    private static final String PREFIX = MADE_PREFIX + "test" + Long.toHexString(System.nanoTime()) + "-";
    /** The names SharedKind.create(size) made here, checked by nothingLeft. */
    private static final List<String> MADE = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("--exit-without-close")) {
            SharedKind.create(args[1], MIB).allocate(100); // neither freed nor closed
            System.out.println("created " + args[1]);
            return;
        }
        run("two attachments in one process: offsets, buffer(), slices", SharedKindTest::twoAttachments);
        run("errors: the library's code and message, bad buffers and offsets", SharedKindTest::errors);
        run("close refuses while buffers are live; free and release end them", SharedKindTest::closeWithLiveBuffers);
        run("exhaustion raises MemkindOutOfMemoryException", SharedKindTest::exhaustion);
        run("the creator's close unlinks the name; attachments keep the heap", SharedKindTest::creatorUnlinks);
        for (String program : args) {
            Path peer = Path.of(program).toAbsolutePath();
            String language = program.endsWith(".py") ? "Python" : "C";
            run("Java creates, a " + language + " process attaches: data and frees both ways",
                    () -> javaCreatesPeerAttaches(peer));
            run("a " + language + " process creates, Java attaches: data and frees both ways",
                    () -> peerCreatesJavaAttaches(peer, language));
        }
        run("a dropped SharedKind without buffers is detached and unlinked", SharedKindTest::droppedKind);
        run("a creator's name is unlinked when its JVM exits", SharedKindTest::unlinkedAtExit);
        // Last: every test above removed what it made.
        run("no segment of this process is left in /dev/shm", SharedKindTest::nothingLeft);
        finish();
    }

    /** SharedKind.create(size), its name recorded for nothingLeft. */
    private static SharedKind create(long size) {
        SharedKind kind = SharedKind.create(size);
        MADE.add(kind.name());
        return kind;
    }

    /** Byte i of pattern `seed`: the same formula as shared_peer.c's. */
    private static byte pattern(long seed, long i) {
        return (byte) (seed * 131 + i * 7 + (i >> 8));
    }

    private static void fill(ByteBuffer b, long seed) {
        for (int i = 0; i < b.capacity(); i++) {
            b.put(i, pattern(seed, i));
        }
    }

    private static boolean holds(ByteBuffer b, long seed) {
        for (int i = 0; i < b.capacity(); i++) {
            if (b.get(i) != pattern(seed, i)) {
                return false;
            }
        }
        return true;
    }

    private static boolean exists(String name) {
        return Files.exists(Path.of("/dev/shm", name.substring(1)));
    }

    /** The shared_peer process: one command line in, one answer line out. */
    private static final class Peer implements AutoCloseable {
        private final Process process;
        private final PrintWriter in;
        private final BufferedReader out;

        /** Start `program` (a .py file: with python3) with `args`. */
        Peer(Path program, String... args) throws IOException {
            List<String> command = new ArrayList<>();
            if (program.toString().endsWith(".py")) {
                command.add("python3");
            }
            command.add(program.toString());
            command.addAll(List.of(args));
            process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            in = new PrintWriter(process.getOutputStream(), true, StandardCharsets.US_ASCII);
            out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.US_ASCII));
            String ready = out.readLine();
            check("ready".equals(ready), "the peer started: " + ready);
        }

        String ask(String command) throws IOException {
            in.println(command);
            String answer = out.readLine();
            check(answer != null && !answer.startsWith("error"), command + ": " + answer);
            return answer;
        }

        void expectOk(String command) throws IOException {
            String answer = ask(command);
            check(answer.equals("ok"), command + ": " + answer);
        }

        long allocate(long size, long seed) throws IOException {
            String answer = ask("alloc " + size + " " + seed);
            check(answer.startsWith("offset "), "alloc: " + answer);
            return Long.parseLong(answer.substring("offset ".length()));
        }

        /** The value of `field` in the peer's "stats" answer. */
        long stat(String field) throws IOException {
            String[] words = ask("stats").split(" ");
            for (int i = 0; i + 1 < words.length; i += 2) {
                if (words[i].equals(field)) {
                    return Long.parseLong(words[i + 1]);
                }
            }
            throw new AssertionError("no " + field + " in the peer's stats");
        }

        /** Detach (and unlink, if the peer created the heap), and wait for the exit. */
        @Override
        public void close() throws IOException {
            if (process.isAlive()) {
                in.println("quit");
                String bye = out.readLine();
                try {
                    check(process.waitFor(30, TimeUnit.SECONDS), "the peer exits");
                } catch (InterruptedException e) {
                    process.destroyForcibly();
                    throw new IOException("interrupted while the peer exits", e);
                }
                check("bye".equals(bye) && process.exitValue() == 0,
                        "the peer detached and exited 0: " + bye + ", " + process.exitValue());
            }
        }
    }

    private static void twoAttachments() {
        try (SharedKind kind = create(16 * MIB)) {
            check(kind.name().matches(MADE_PREFIX + "[0-9a-f]{12}") && kind.isCreator(),
                    "a made name: " + kind.name());
            check(exists(kind.name()), "the segment is in /dev/shm");
            check(kind.capacity() >= 16 * MIB, "capacity " + kind.capacity());
            ByteBuffer b = kind.allocate(1000);
            check(b.isDirect() && b.capacity() == 1000, "a direct buffer of 1000 bytes");
            fill(b, 1);
            long offset = kind.offset(b);
            check(offset > 0, "an offset: " + offset);
            check(kind.offset(b.slice(10, 20)) == offset + 10, "a slice's offset");
            try (SharedKind other = SharedKind.attach(kind.name())) {
                check(!other.isCreator() && other.name().equals(kind.name()), "attached by name");
                check(other.stats().slot() != kind.stats().slot(), "a slot of its own");
                ByteBuffer view = other.buffer(offset, 1000);
                check(MemkindFixed.mkf_buffer_address(view) != MemkindFixed.mkf_buffer_address(b),
                        "another mapping, another address");
                check(holds(view, 1), "the other attachment reads the bytes at the offset");
                fill(view, 2);
                check(holds(b, 2), "and its writes show through the first buffer");
                check(other.offset(view) == offset, "the offset is the same in both");
                other.release(view);
                check(other.liveBuffers() == 0, "released");
                // A block freed by the other attachment: a remote free.
                ByteBuffer c = kind.allocate(300 * KIB);
                long cOffset = kind.offset(c);
                kind.release(c);
                other.free(other.buffer(cOffset, 300 * KIB));
            }
            check(holds(b, 2), "the bytes stay after the other attachment detached");
            SharedKind.Stats stats = kind.stats();
            check(stats.capacity() == kind.capacity() && stats.segmentSize() > stats.capacity(),
                    "capacity and segment size: " + stats);
            check(stats.processAllocated() >= 1000, "this attachment's block is counted: " + stats);
            check(kind.attachmentStats().allocated() >= 1000, "attachment stats: " + kind.attachmentStats());
            kind.free(b);
            check(kind.toString().contains(kind.name()), kind.toString());
        }
    }

    private static void errors() throws Exception {
        String missing = PREFIX + "missing";
        MemkindException e = expect(MemkindException.class, () -> SharedKind.attach(missing));
        check(e.code() == MemkindFixedConstants.MEMKIND_ERROR_SHARED_NOT_FOUND, "code " + e.code());
        check(e.getMessage().equals(MemkindFixed.memkind_error_message(e.code()) + " (code " + e.code() + ")"),
                "the library's message: " + e.getMessage());
        try (SharedKind kind = SharedKind.create(PREFIX + "errors", MIB)) {
            check(kind.name().equals(PREFIX + "errors"), "the given name");
            e = expect(MemkindException.class, () -> SharedKind.create(PREFIX + "errors", MIB));
            check(e.code() == MemkindFixedConstants.MEMKIND_ERROR_SHARED_EXISTS, "exists: " + e.code());
            e = expect(MemkindException.class, () -> SharedKind.create("no-slash/x", MIB));
            check(e.code() == MemkindFixedConstants.MEMKIND_ERROR_INVALID, "a bad name: " + e.code());
            expect(IllegalArgumentException.class, () -> SharedKind.create(PREFIX + "zero", 0));
            expect(NullPointerException.class, () -> SharedKind.attach(null));
            expect(IllegalArgumentException.class, () -> kind.offset(ByteBuffer.allocate(8)));
            expect(IllegalArgumentException.class, () -> kind.offset(ByteBuffer.allocateDirect(8)));
            long capacity = kind.capacity();
            long end = kind.stats().segmentSize();
            expect(IllegalArgumentException.class, () -> kind.buffer(1, 8)); // the header
            expect(IllegalArgumentException.class, () -> kind.buffer(end, 1));
            expect(IllegalArgumentException.class, () -> kind.buffer(end - 4, 8)); // across the end
            expect(IllegalArgumentException.class, () -> kind.buffer(end - 8, -1));
            ByteBuffer heap = kind.buffer(end - capacity, capacity); // the heap ends the segment
            check(heap.capacity() == capacity, "the whole heap");
            expect(IllegalArgumentException.class, () -> kind.free(ByteBuffer.allocateDirect(8)));
            expect(IllegalArgumentException.class, () -> kind.release(ByteBuffer.allocateDirect(8)));
            kind.release(heap);
            e = expect(MemkindException.class, () -> kind.allocateAligned(3, 8));
            check(e.code() == 22, "EINVAL for a bad alignment: " + e.code());
        }
        check(!exists(PREFIX + "errors"), "closed and unlinked after the errors");
    }

    private static void closeWithLiveBuffers() throws Exception {
        SharedKind kind = create(4 * MIB);
        ByteBuffer mine = kind.allocate(64);
        ByteBuffer view = kind.buffer(kind.offset(mine), 64);
        IllegalStateException e = expect(IllegalStateException.class, kind::close);
        check(e.getMessage().startsWith("2 buffer(s)"), e.getMessage());
        check(!kind.isClosed() && exists(kind.name()), "still open and named");
        kind.release(view);
        expect(IllegalArgumentException.class, () -> kind.release(view));
        ByteBuffer grown = kind.reallocate(mine, 100 * KIB);
        expect(IllegalArgumentException.class, () -> kind.free(mine));
        kind.free(grown);
        kind.close();
        kind.close();
        check(kind.isClosed() && !exists(kind.name()), "closed and unlinked");
        expect(IllegalStateException.class, () -> kind.allocate(8));
        expect(IllegalStateException.class, () -> kind.buffer(4096, 8));
        expect(IllegalStateException.class, kind::stats);
    }

    private static void exhaustion() throws Exception {
        try (SharedKind kind = create(2 * MIB)) {
            List<ByteBuffer> buffers = new ArrayList<>();
            MemkindOutOfMemoryException e = expect(MemkindOutOfMemoryException.class, () -> {
                while (true) {
                    buffers.add(kind.allocate(64 * KIB));
                }
            });
            check(e.code() == 12 && !buffers.isEmpty(), "ENOMEM after " + buffers.size() + " buffers");
            check(kind.attachmentStats().failedAllocs() >= 1, "the failure is counted");
            for (ByteBuffer b : buffers) {
                kind.free(b);
            }
            kind.free(kind.allocate(64 * KIB)); // room again
        }
    }

    private static void creatorUnlinks() throws Exception {
        SharedKind creator = create(4 * MIB);
        String name = creator.name();
        try (SharedKind other = SharedKind.attach(name)) {
            creator.close();
            check(!exists(name), "the creator's close unlinked " + name);
            MemkindException e = expect(MemkindException.class, () -> SharedKind.attach(name));
            check(e.code() == MemkindFixedConstants.MEMKIND_ERROR_SHARED_NOT_FOUND, "code " + e.code());
            ByteBuffer b = other.allocate(4096);
            fill(b, 3);
            check(holds(b, 3), "the attachment still uses the heap");
            other.free(b);
            other.unlink(); // gone already: no error
        }
        // unlink() by an attachment, before the creator closes.
        try (SharedKind kind = create(MIB); SharedKind other = SharedKind.attach(kind.name())) {
            other.unlink();
            check(!exists(kind.name()), "an attachment's unlink()");
        }
    }

    private static void javaCreatesPeerAttaches(Path program) throws Exception {
        try (SharedKind kind = create(32 * MIB)) {
            // A large block (pages of its own) and a small one.
            ByteBuffer a = kind.allocate(3 * MIB);
            fill(a, 1);
            long aOffset = kind.offset(a);
            try (Peer peer = new Peer(program, "attach", kind.name())) {
                check(kind.stats().processes() == 2, "two processes: " + kind.stats());
                peer.expectOk("check " + aOffset + " " + a.capacity() + " 1");
                peer.expectOk("fill " + aOffset + " " + a.capacity() + " 2");
                check(holds(a, 2), "the peer's write shows in Java's buffer");

                // The peer's block: Java reads it, writes it, frees it.
                long bOffset = peer.allocate(50_000, 3);
                ByteBuffer b = kind.buffer(bOffset, 50_000);
                check(holds(b, 3), "Java reads the peer's block at offset " + bOffset);
                fill(b, 4);
                peer.expectOk("check " + bOffset + " 50000 4");
                long peerAllocated = peer.stat("process_allocated");
                kind.free(b);
                check(peer.stat("process_allocated") <= peerAllocated - 50_000,
                        "Java's free of the peer's block is the peer's no more");

                // Java's small block handed over: the peer reads it and frees it, a
                // remote free that Java takes in (large blocks go back to the page map
                // at once: b above).
                ByteBuffer c = kind.allocate(1000);
                fill(c, 5);
                long cOffset = kind.offset(c);
                kind.release(c);
                long javaAllocated = kind.stats().processAllocated();
                peer.expectOk("check " + cOffset + " 1000 5");
                peer.expectOk("free " + cOffset);
                kind.purge(); // takes in the blocks other processes freed
                SharedKind.Stats stats = kind.stats();
                check(stats.remoteFrees() >= 1, "a remote free to Java: " + stats);
                check(stats.processAllocated() <= javaAllocated - 1000, "counted: " + stats);
            }
            check(kind.stats().processes() == 1, "the peer detached");
            check(holds(a, 2), "Java's block stays");
            kind.free(a);
        }
    }

    private static void peerCreatesJavaAttaches(Path program, String language) throws Exception {
        String name = PREFIX + "peer-" + language;
        try (Peer peer = new Peer(program, "create", name, String.valueOf(16 * MIB))) {
            try (SharedKind kind = SharedKind.attach(name)) {
                check(!kind.isCreator(), "attached");
                long aOffset = peer.allocate(4096, 7);
                ByteBuffer a = kind.buffer(aOffset, 4096);
                check(holds(a, 7), "Java reads the creator's block");
                fill(a, 8);
                peer.expectOk("check " + aOffset + " 4096 8");
                kind.free(a);

                ByteBuffer b = kind.allocate(2 * MIB);
                fill(b, 9);
                long bOffset = kind.offset(b);
                kind.release(b);
                peer.expectOk("check " + bOffset + " " + (2 * MIB) + " 9");
                peer.expectOk("free " + bOffset);
                check(peer.stat("remote_frees") >= 1, "a remote free to the peer");
                check(kind.stats().processes() == 2, "two processes");
            }
            check(peer.stat("processes") == 1, "Java detached");
        }
        check(!exists(name), "the peer unlinked its heap");
        MemkindException e = expect(MemkindException.class, () -> SharedKind.attach(name));
        check(e.code() == MemkindFixedConstants.MEMKIND_ERROR_SHARED_NOT_FOUND, "code " + e.code());
    }

    private static void droppedKind() throws Exception {
        String name = dropKind();
        for (int i = 0; i < 100 && exists(name); i++) {
            System.gc();
            Thread.sleep(20);
        }
        check(!exists(name), "the cleaner unlinked " + name);
    }

    private static String dropKind() {
        SharedKind kind = create(MIB);
        kind.free(kind.allocate(100));
        WeakReference<SharedKind> ref = new WeakReference<>(kind);
        check(ref.get() != null, "made");
        return kind.name();
    }

    private static void unlinkedAtExit() throws Exception {
        String name = PREFIX + "exit";
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process child = new ProcessBuilder(java, "-Djava.library.path=" + System.getProperty("java.library.path"),
                "-cp", System.getProperty("java.class.path"), SharedKindTest.class.getName(),
                "--exit-without-close", name).redirectErrorStream(true).start();
        String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        check(child.waitFor(60, TimeUnit.SECONDS) && child.exitValue() == 0, "the child ran: " + out);
        check(out.contains("created " + name), "the child created the heap: " + out);
        check(!exists(name), "its exit unlinked " + name);
    }

    private static void nothingLeft() throws IOException {
        check(MADE.size() >= 7, "names recorded: " + MADE);
        try (Stream<Path> entries = Files.list(Path.of("/dev/shm"))) {
            List<String> left = entries.map(p -> "/" + p.getFileName())
                    .filter(name -> name.startsWith(PREFIX) || MADE.contains(name)).toList();
            check(left.isEmpty(), "left in /dev/shm: " + left);
        }
    }
}
