package org.memkind.fixed;

/**
 * The kind could not serve a request: its regions have no free extent large
 * enough (errno ENOMEM). Freeing blocks makes room again; the kind stays usable.
 */
public class MemkindOutOfMemoryException extends MemkindException {
    private static final long serialVersionUID = 1L;

    public MemkindOutOfMemoryException(int code, String message) {
        super(code, message);
    }
}
