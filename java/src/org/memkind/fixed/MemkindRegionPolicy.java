package org.memkind.fixed;

/**
 * NUMA placement of a region that {@link FixedKind#map(long, int, int, long)} maps
 * (C's {@code enum memkind_region_policy}). The values are the header's, through the
 * package-private class SWIG generates from it; each is a compile-time constant.
 */
public final class MemkindRegionPolicy {
    /** The process's policy; the node is ignored. */
    public static final int MEMKIND_REGION_POLICY_DEFAULT =
            SwigMemkindRegionPolicy.MEMKIND_REGION_POLICY_DEFAULT;
    /** Only on the node. */
    public static final int MEMKIND_REGION_POLICY_BIND =
            SwigMemkindRegionPolicy.MEMKIND_REGION_POLICY_BIND;
    /** On the node while it has memory. */
    public static final int MEMKIND_REGION_POLICY_PREFERRED =
            SwigMemkindRegionPolicy.MEMKIND_REGION_POLICY_PREFERRED;
    /** Page by page over all nodes; the node is ignored. */
    public static final int MEMKIND_REGION_POLICY_INTERLEAVE =
            SwigMemkindRegionPolicy.MEMKIND_REGION_POLICY_INTERLEAVE;

    private MemkindRegionPolicy() {}
}
