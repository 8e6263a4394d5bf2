package org.memkind.fixed;

/**
 * Region flags of {@link FixedKind#over(java.nio.ByteBuffer, long)}, to be or'ed
 * (C's {@code enum memkind_region_flags}). The values are the header's, read from the
 * JNI library when this class is first used (through the package-private class SWIG
 * generates), so they are not compile-time constants.
 */
public final class MemkindRegionFlags {
    /**
     * The region's memory is known to be zero-filled (fresh anonymous memory), so the
     * first zeroed allocations need not clear it.
     */
    public static final int MEMKIND_REGION_ZEROED = SwigMemkindRegionFlags.MEMKIND_REGION_ZEROED;
    /**
     * Freed pages go back to the operating system ({@code madvise}) instead of staying
     * resident: for shared or file-backed regions, or a low resident size.
     */
    public static final int MEMKIND_REGION_PURGE = SwigMemkindRegionFlags.MEMKIND_REGION_PURGE;

    private MemkindRegionFlags() {}
}
