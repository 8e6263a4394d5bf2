package org.memkind.fixed;

/**
 * A memkind-fixed call failed. {@link #code()} is the library's status code: one of
 * the negative {@code MEMKIND_ERROR_*} codes of {@link MemkindFixedConstants}, or a
 * positive errno value (for example EINVAL from an allocator). The message is the
 * library's own sentence for that code ({@code memkind_error_message}).
 *
 * <p>Thrown by the JNI library (bindings/swig/memkind_fixed.i), which constructs it
 * through the {@code (int, String)} constructor.
 */
public class MemkindException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int code;

    public MemkindException(int code, String message) {
        super(message + " (code " + code + ")");
        this.code = code;
    }

    /** The status code the library returned (or the errno it set). */
    public int code() {
        return code;
    }
}
