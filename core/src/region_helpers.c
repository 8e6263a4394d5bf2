/*
 * region_helpers.c - EXTENSION: map memory for a fixed kind with a NUMA placement
 * (libnuma's mbind) and optionally on huge pages.
 */
#include "internal.h"

#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <sys/mman.h>
#include <unistd.h>

#define MKF_HUGE_PAGE ((size_t)2 << 20)

static size_t rounded(size_t size, unsigned flags)
{
    size_t unit = (flags & MEMKIND_REGION_MAP_HUGETLB) ? MKF_HUGE_PAGE
                                                        : (size_t)sysconf(_SC_PAGESIZE);
    if (size > SIZE_MAX - unit)
        return 0;
    return (size + unit - 1) & ~(unit - 1);
}

static int place(void *addr, size_t size, int policy, int node)
{
    if (policy == MEMKIND_REGION_POLICY_DEFAULT)
        return MEMKIND_SUCCESS;
    if (numa_available() < 0)
        return MEMKIND_ERROR_UNAVAILABLE;
    int max_node = numa_max_node();
    struct bitmask *mask = numa_allocate_nodemask();
    if (mask == NULL)
        return MEMKIND_ERROR_MALLOC;
    int mode;
    if (policy == MEMKIND_REGION_POLICY_INTERLEAVE) {
        mode = MPOL_INTERLEAVE;
        copy_bitmask_to_bitmask(numa_all_nodes_ptr, mask);
    } else {
        if (node < 0 || node > max_node || !numa_bitmask_isbitset(numa_all_nodes_ptr, node)) {
            numa_bitmask_free(mask);
            return MEMKIND_ERROR_INVALID;
        }
        mode = policy == MEMKIND_REGION_POLICY_BIND ? MPOL_BIND : MPOL_PREFERRED;
        numa_bitmask_setbit(mask, (unsigned)node);
    }
    long rc = mbind(addr, size, mode, mask->maskp, mask->size + 1, 0);
    numa_bitmask_free(mask);
    return rc == 0 ? MEMKIND_SUCCESS : MEMKIND_ERROR_MBIND;
}

MKF_EXPORT int memkind_region_map(void **out, size_t size, int policy, int node,
                                  unsigned flags)
{
    if (out == NULL || size == 0 || policy < MEMKIND_REGION_POLICY_DEFAULT ||
        policy > MEMKIND_REGION_POLICY_INTERLEAVE || (flags & ~MEMKIND_REGION_MAP_HUGETLB))
        return MEMKIND_ERROR_INVALID;
    size_t len = rounded(size, flags);
    if (len == 0)
        return MEMKIND_ERROR_INVALID;
    /* Huge pages are reserved at mmap time (no MAP_NORESERVE), so a machine
     * without free huge pages fails here with a clear error instead of raising
     * SIGBUS at the first touch. */
    int mflags = MAP_PRIVATE | MAP_ANONYMOUS;
    if (flags & MEMKIND_REGION_MAP_HUGETLB)
        mflags |= MAP_HUGETLB;
    else
        mflags |= MAP_NORESERVE;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, mflags, -1, 0);
    if (p == MAP_FAILED) {
        if (flags & MEMKIND_REGION_MAP_HUGETLB)
            return MEMKIND_ERROR_HUGETLB;
        return MEMKIND_ERROR_MMAP;
    }
    int err = place(p, len, policy, node);
    if (err != MEMKIND_SUCCESS) {
        munmap(p, len);
        return err;
    }
    *out = p;
    return MEMKIND_SUCCESS;
}

MKF_EXPORT int memkind_region_unmap(void *addr, size_t size, unsigned flags)
{
    if (addr == NULL || size == 0 || (flags & ~MEMKIND_REGION_MAP_HUGETLB))
        return MEMKIND_ERROR_INVALID;
    size_t len = rounded(size, flags);
    if (len == 0)
        return MEMKIND_ERROR_INVALID;
    return munmap(addr, len) == 0 ? MEMKIND_SUCCESS : MEMKIND_ERROR_MMAP;
}
