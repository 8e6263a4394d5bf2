package org.memkind.fixed;

/**
 * The plain test harness of the Bazel-run Java tests (no JUnit here: Bazel's Java
 * rules need downloads): each test is a method, a failed check throws, and
 * {@link #finish} prints "N passed, N failed" and exits 0 only when nothing failed.
 */
final class Harness {
    /** A test, or the body that {@link #expect} runs. */
    interface Test {
        void run() throws Exception;
    }

    private static int passed;
    private static int failed;

    private Harness() {}

    static void run(String name, Test test) {
        try {
            test.run();
            passed++;
            System.out.println("PASS " + name);
        } catch (Throwable t) {
            failed++;
            System.out.println("FAIL " + name + ": " + t);
            t.printStackTrace(System.out);
        }
    }

    /** Print the count and exit: 0 only when every test passed. */
    static void finish() {
        System.out.println(passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }

    static void check(boolean condition, String what) {
        if (!condition) {
            throw new AssertionError(what);
        }
    }

    /** Runs {@code body} and returns what it threw, which must be a {@code type}. */
    static <T extends Throwable> T expect(Class<T> type, Test body) throws Exception {
        try {
            body.run();
        } catch (Throwable t) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
            throw new AssertionError("expected " + type.getSimpleName() + ", got " + t, t);
        }
        throw new AssertionError("expected " + type.getSimpleName() + ", nothing was thrown");
    }
}
