package org.memkind.fixed;

/**
 * Options of the region that {@link FixedKind#map(long, int, int, long)} maps, to be
 * or'ed (C's {@code enum memkind_region_map_flags}). The values are the header's, read
 * from the JNI library when this class is first used (through the package-private
 * class SWIG generates), so they are not compile-time constants.
 */
public final class MemkindRegionMapFlags {
    /** Back the region with 2 MiB huge pages. */
    public static final int MEMKIND_REGION_MAP_HUGETLB =
            SwigMemkindRegionMapFlags.MEMKIND_REGION_MAP_HUGETLB;

    private MemkindRegionMapFlags() {}
}
