/*
 * memkind_fixed.h - heap allocation on memory that the caller provides.
 *
 * memkind-fixed is a maintained successor of the "fixed kind" of Intel's memkind
 * library. A *kind* is a heap. A *fixed kind* is a heap that lives entirely inside
 * one or more memory areas (regions) that the program set up itself: a static
 * array, an mmap'd area bound to a NUMA node, huge pages, a shared or file mapping.
 * Every block handed out by a fixed kind lies inside its regions, and no byte
 * outside them is ever written by the library.
 *
 * Programs written for memkind's fixed kind compile against this header unchanged:
 * the names, signatures, error codes and semantics below are memkind's. Point
 * `#include <memkind.h>` here with the compat/ include folder that ships beside
 * this header (see README.md). Functions marked EXTENSION do not exist in memkind.
 *
 * Conventions
 * - Functions that return `int` return 0 (MEMKIND_SUCCESS) on success and one of
 *   the negative MEMKIND_ERROR_* codes on failure, unless stated otherwise.
 *   memkind_error_message() turns a code into a sentence.
 * - Allocation functions return NULL and set errno (ENOMEM, EINVAL) on failure,
 *   like malloc(3). memkind_posix_memalign() returns the errno value instead.
 * - All functions are thread-safe. A kind may be used from any number of threads
 *   at once, and a block may be freed by a thread other than the one that
 *   allocated it. Destroying a kind while another thread still uses it is an error
 *   of the caller.
 * - A block always goes back to the heap that handed it out: free, realloc and
 *   malloc_usable_size find the owner from the pointer when the kind passed is
 *   NULL, wrong, or destroyed.
 * - fork(): the child keeps every kind, except that a fixed kind whose region is
 *   a shared mapping (MAP_SHARED, shared memory) refuses to allocate or free in the
 *   child (EPERM, MEMKIND_ERROR_SHARED_FORKED): the parent's heap owns those bytes.
 * - Debug mode: with MEMKIND_FIXED_DEBUG=1 in the environment when the library is
 *   loaded, thread caches are off and free, realloc and malloc_usable_size check
 *   that their pointer starts a live block; a double free, or a pointer the
 *   library did not hand out, is reported on stderr with its address and the
 *   process aborts. (EXTENSION; docs/bad-input.md gives its cost.)
 *
 * Sections
 *   1. Version, constants and error codes
 *   2. Kinds: the handle, the ops table, creation and destruction
 *   3. Heap management: malloc, calloc, realloc, posix_memalign, free
 *   4. Statistics
 *   5. Operations for building kinds (memkind_fixed_*, memkind_arena_*,
 *      memkind_default_*)
 *   6. EXTENSIONS: region flags, more regions, region statistics, region helpers
 *   7. EXTENSIONS: shared kinds, one heap used by several processes at once
 */
#ifndef MEMKIND_FIXED_H
#define MEMKIND_FIXED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(MEMKIND_FIXED_NO_ATTRIBUTES)
#define MEMKIND_ATTR_MALLOC __attribute__((malloc))
#define MEMKIND_ATTR_ALLOC_SIZE(n) __attribute__((alloc_size(n)))
#define MEMKIND_ATTR_ALLOC_SIZE2(n, m) __attribute__((alloc_size(n, m)))
#define MEMKIND_ATTR_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define MEMKIND_ATTR_MALLOC
#define MEMKIND_ATTR_ALLOC_SIZE(n)
#define MEMKIND_ATTR_ALLOC_SIZE2(n, m)
#define MEMKIND_ATTR_WARN_UNUSED
#endif

/* =====================================================================
 * 1. Version, constants and error codes
 * ===================================================================== */

/** Version of memkind-fixed itself. */
#define MEMKIND_FIXED_VERSION_MAJOR 0
#define MEMKIND_FIXED_VERSION_MINOR 1
#define MEMKIND_FIXED_VERSION_PATCH 0

/** Limits. MEMKIND_MAX_KIND is larger than memkind's 512: a program may hold
 *  up to this many kinds alive at once (jemalloc allows about 4095 arenas). */
enum memkind_const {
    MEMKIND_MAX_KIND = 4000,           /**< kinds alive at once, built-in ones included */
    MEMKIND_ERROR_MESSAGE_SIZE = 128,  /**< buffer size that holds any error message */
    MEMKIND_PMEM_MIN_SIZE = (1024 * 1024 * 16), /**< kept for source compatibility */
    MEMKIND_NAME_LENGTH = 64           /**< a kind's name, terminating NUL included */
};

/** Status codes. Values are memkind's; codes below -100 are EXTENSIONS and are only
 *  ever appended. */
enum {
    MEMKIND_SUCCESS = 0,                       /**< the operation succeeded */
    MEMKIND_ERROR_UNAVAILABLE = -1,            /**< the kind is not available */
    MEMKIND_ERROR_MBIND = -2,                  /**< mbind() failed */
    MEMKIND_ERROR_MMAP = -3,                   /**< mmap() failed */
    MEMKIND_ERROR_MALLOC = -6,                 /**< allocating the library's own metadata failed */
    MEMKIND_ERROR_ENVIRON = -12,               /**< an environment variable could not be parsed */
    MEMKIND_ERROR_INVALID = -13,               /**< an argument is invalid */
    MEMKIND_ERROR_TOOMANY = -15,               /**< MEMKIND_MAX_KIND kinds are already alive */
    MEMKIND_ERROR_BADOPS = -17,                /**< the memkind_ops table lacks a required operation */
    MEMKIND_ERROR_HUGETLB = -18,               /**< huge pages could not be had */
    MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE = -20, /**< the requested memory type is not available */
    MEMKIND_ERROR_OPERATION_FAILED = -21,      /**< the operation failed */
    MEMKIND_ERROR_ARENAS_CREATE = -22,         /**< jemalloc could not create an arena */
    MEMKIND_ERROR_RUNTIME = -255,              /**< an unexpected run-time error */
    /* EXTENSIONS */
    MEMKIND_ERROR_REGION_OVERLAP = -101,       /**< the region overlaps a region of a live kind */
    MEMKIND_ERROR_REGION_TOO_SMALL = -102,     /**< the region holds less than one page once aligned */
    MEMKIND_ERROR_NOT_FIXED = -103,            /**< the operation needs a fixed kind */
    MEMKIND_ERROR_DESTROYED = -104,            /**< the kind was already destroyed */
    MEMKIND_ERROR_SHARED_FORKED = -105,        /**< the kind's region is a shared mapping
                                                    inherited through fork(): only the
                                                    process that made the kind may use it */
    MEMKIND_ERROR_SHARED_BAD_MAGIC = -106,     /**< the segment is not a shared heap (section 7) */
    MEMKIND_ERROR_SHARED_VERSION = -107,       /**< the shared heap was made by an incompatible
                                                    version of the library */
    MEMKIND_ERROR_SHARED_SIZE = -108,          /**< the segment's size or geometry does not
                                                    match its header (truncated, resized, or
                                                    another page size) */
    MEMKIND_ERROR_SHARED_EXISTS = -109,        /**< a shared heap of that name exists already */
    MEMKIND_ERROR_SHARED_NOT_FOUND = -110,     /**< no shared heap of that name */
    MEMKIND_ERROR_SHARED_FULL = -111,          /**< every process slot of the shared heap is
                                                    taken (attached, or dead and not reclaimed) */
    MEMKIND_ERROR_NOT_SHARED = -112,           /**< the operation needs a shared kind */
    MEMKIND_ERROR_SHARED_NO_SPACE = -113,      /**< the segment's pages could not be reserved
                                                    (/dev/shm or the file system is full, or
                                                    more than memory and swap could back) */
    MEMKIND_ERROR_SHARED_CORRUPT = -114        /**< the shared heap's bookkeeping is damaged,
                                                    or its lock was held longer than
                                                    MEMKIND_SHARED_LOCK_TIMEOUT_MS */
};

/** Statistics that memkind_get_stat() reports. */
typedef enum memkind_stat_type {
    MEMKIND_STAT_TYPE_RESIDENT = 0,  /**< bytes in resident pages mapped by the allocator */
    MEMKIND_STAT_TYPE_ACTIVE = 1,    /**< bytes in active pages (pages with live blocks) */
    MEMKIND_STAT_TYPE_ALLOCATED = 2, /**< bytes allocated by the application */
    MEMKIND_STAT_TYPE_MAX_VALUE
} memkind_stat_type;

/** Memory usage policies (memkind's; accepted, and ignored by fixed kinds). */
typedef enum memkind_mem_usage_policy {
    MEMKIND_MEM_USAGE_POLICY_DEFAULT = 0,
    MEMKIND_MEM_USAGE_POLICY_CONSERVATIVE = 1,
    MEMKIND_MEM_USAGE_POLICY_MAX_VALUE
} memkind_mem_usage_policy;

/**
 * Version of the memkind API that this library implements, as
 * major * 1000000 + minor * 1000 + patch (memkind 1.14.0 gives 1014000).
 */
int memkind_get_version(void);

/**
 * Write the message for status code `err` into `msg`, truncated to `size` bytes and
 * always NUL-terminated when size > 0. Positive codes are errno values (as returned
 * by memkind_posix_memalign()) and get strerror()'s text. An unknown code gets a
 * message that says so. MEMKIND_ERROR_MESSAGE_SIZE bytes always suffice.
 */
void memkind_error_message(int err, char *msg, size_t size);

/* =====================================================================
 * 2. Kinds
 * ===================================================================== */

/** A kind: a heap with its own allocation behaviour. Opaque. */
typedef struct memkind *memkind_t;

/**
 * The operations of a kind. Same members, in the same order, as memkind's.
 * A kind built with memkind_create() calls `create` once, `destroy` once, and the
 * heap functions for every request. Members a kind does not need may be NULL,
 * except create, destroy, malloc, calloc, posix_memalign, realloc and free.
 * `init_once` must be NULL for kinds made with memkind_create().
 */
struct memkind_ops {
    int (*create)(struct memkind *kind, struct memkind_ops *ops, const char *name);
    int (*destroy)(struct memkind *kind);
    void *(*malloc)(struct memkind *kind, size_t size);
    void *(*calloc)(struct memkind *kind, size_t num, size_t size);
    int (*posix_memalign)(struct memkind *kind, void **memptr, size_t alignment,
                          size_t size);
    void *(*realloc)(struct memkind *kind, void *ptr, size_t size);
    void (*free)(struct memkind *kind, void *ptr);
    void *(*mmap)(struct memkind *kind, void *addr, size_t size);
    int (*mbind)(struct memkind *kind, void *ptr, size_t size);
    int (*madvise)(struct memkind *kind, void *addr, size_t size);
    int (*get_mmap_flags)(struct memkind *kind, int *flags);
    int (*get_mbind_mode)(struct memkind *kind, int *mode);
    int (*get_mbind_nodemask)(struct memkind *kind, unsigned long *nodemask,
                              unsigned long maxnode);
    int (*get_arena)(struct memkind *kind, unsigned int *arena, size_t size);
    int (*check_available)(struct memkind *kind);
    void (*init_once)(void);
    int (*finalize)(struct memkind *kind);
    size_t (*malloc_usable_size)(struct memkind *kind, void *ptr);
    int (*update_memory_usage_policy)(struct memkind *kind,
                                      memkind_mem_usage_policy policy);
    int (*get_stat)(memkind_t kind, memkind_stat_type stat, size_t *value);
    void *(*defrag_reallocate)(struct memkind *kind, void *ptr);
};

/** The default kind: ordinary process memory, served by the library's private
 *  jemalloc. Pointers that no other kind owns belong to it. */
extern memkind_t MEMKIND_DEFAULT;

/**
 * Create a kind whose heap lives in the memory area [addr, addr + size).
 *
 * The area may come from anywhere (a static array, mmap, shared memory, a file
 * mapping) and must stay valid and writable until memkind_destroy_kind(). The
 * library never frees or unmaps it. A start that is not page-aligned is rounded up
 * and the end rounded down to whole pages; the rest is left untouched. The
 * library's own metadata lives outside the area, so all of it is available to
 * allocations. When the area is exhausted, allocations return NULL with errno
 * ENOMEM, and memory freed later serves requests of any size at once.
 *
 * Fresh memory of the area is not assumed to be zero (see
 * memkind_create_fixed_flags() to say that it is).
 *
 * Returns 0 and stores the kind in *kind, or:
 * - MEMKIND_ERROR_INVALID: addr or kind is NULL, size is 0, or the area wraps
 *   around the address space;
 * - MEMKIND_ERROR_REGION_TOO_SMALL: less than one whole page once aligned;
 * - MEMKIND_ERROR_REGION_OVERLAP: the area overlaps a region of a live fixed kind;
 * - MEMKIND_ERROR_TOOMANY, MEMKIND_ERROR_ARENAS_CREATE, MEMKIND_ERROR_MALLOC.
 * On failure *kind is left unchanged.
 *
 * The kind is named memkind_fixed_<n>, with n chosen so that no live kind (a
 * user's included) has the name. A shared mapping works in the process that made
 * the kind; a child of fork() gets EPERM / MEMKIND_ERROR_SHARED_FORKED from it
 * (see Conventions).
 */
int memkind_create_fixed(void *addr, size_t size, memkind_t *kind);

/**
 * Create a kind from an operations table, memkind's way of defining new kinds
 * (for example with MEMKIND_FIXED_OPS, or a table of memkind_arena_* functions).
 * `name` must be unique among live kinds and shorter than MEMKIND_NAME_LENGTH.
 * Calls ops->create(kind, ops, name); its non-zero result is returned as is.
 *
 * Returns 0, MEMKIND_ERROR_INVALID (NULL argument, name too long or already used),
 * MEMKIND_ERROR_BADOPS (a required operation is missing or init_once is set), or
 * MEMKIND_ERROR_TOOMANY.
 */
int memkind_create(struct memkind_ops *ops, const char *name, memkind_t *kind);

/**
 * Destroy a kind made by memkind_create() or memkind_create_fixed(), releasing its
 * arena, its thread caches and its metadata. Blocks still allocated in it are
 * released with it (memkind allows this too) and counted (see
 * memkind_get_destroy_stats()); the region itself is left to the caller, who may
 * reuse it, even for a new kind, after this returns.
 *
 * Returns 0, MEMKIND_ERROR_INVALID for NULL or a built-in kind,
 * MEMKIND_ERROR_DESTROYED when the kind was already destroyed (detected as long as
 * its slot has not been reused by a newer kind), or the result of ops->destroy.
 */
int memkind_destroy_kind(memkind_t kind);

/**
 * Return 0 when the kind can serve allocations: a live fixed kind, or any kind whose
 * ops->check_available says so. MEMKIND_ERROR_INVALID for NULL,
 * MEMKIND_ERROR_DESTROYED for a destroyed kind, MEMKIND_ERROR_SHARED_FORKED for a
 * fixed kind on a shared mapping in a child of fork().
 */
int memkind_check_available(memkind_t kind);

/**
 * The capacity of a kind in bytes: for a fixed kind the usable size of its
 * regions (whole pages); for MEMKIND_DEFAULT the machine's physical memory.
 * -1 for NULL, a destroyed kind, or a kind with no known capacity.
 */
ssize_t memkind_get_capacity(memkind_t kind);

/**
 * Choose what malloc-like functions do with a request of 0 bytes for this kind:
 * return NULL (false, the default, as in memkind) or a unique pointer to a
 * minimal block that must be freed (true). A NULL kind is ignored. May be called
 * while other threads allocate from the kind.
 */
void memkind_set_allow_zero_allocs(memkind_t kind, bool allow_zero_allocs);

/**
 * The kind that owns `ptr`, a pointer returned by this library: the fixed kind
 * whose region holds it, the arena kind whose arena holds it, or MEMKIND_DEFAULT.
 * NULL for a NULL pointer or one that the library does not know.
 */
memkind_t memkind_detect_kind(void *ptr);

/* =====================================================================
 * 3. Heap management
 * ===================================================================== */

/**
 * Allocate `size` bytes of uninitialised memory from `kind`, aligned for any
 * type. Returns NULL with errno ENOMEM when the kind cannot serve it, errno EINVAL
 * for a NULL or destroyed kind. `size` 0 returns NULL (errno untouched) unless
 * memkind_set_allow_zero_allocs() allowed it.
 */
void *memkind_malloc(memkind_t kind, size_t size) MEMKIND_ATTR_MALLOC
    MEMKIND_ATTR_ALLOC_SIZE(2);

/**
 * Allocate zeroed memory for `num` elements of `size` bytes. NULL with errno
 * ENOMEM when num * size overflows or the kind is exhausted. Zero is guaranteed
 * even when the memory was used before (memkind could return old data here).
 */
void *memkind_calloc(memkind_t kind, size_t num, size_t size) MEMKIND_ATTR_MALLOC
    MEMKIND_ATTR_ALLOC_SIZE2(2, 3);

/**
 * Resize the block at `ptr` to `size` bytes, keeping its contents up to the
 * smaller size, in place when the kind can (a fixed kind grows a block into free
 * memory that follows it). `ptr` NULL behaves as memkind_malloc(). `size` 0 frees
 * `ptr` and returns NULL (unless zero allocations are allowed, then it returns a
 * minimal block). On failure returns NULL with errno ENOMEM and `ptr` is left
 * untouched. `kind` may be NULL, wrong or destroyed: the block is resized by the
 * kind that owns it. NULL with errno EINVAL when no heap of the library holds
 * `ptr`.
 */
void *memkind_realloc(memkind_t kind, void *ptr, size_t size)
    MEMKIND_ATTR_ALLOC_SIZE(3) MEMKIND_ATTR_WARN_UNUSED;

/**
 * Allocate `size` bytes aligned to `alignment`, a power of two and a multiple of
 * sizeof(void *), and store the address in *memptr. Alignments up to the region's
 * size work on fixed kinds. Sets *memptr to NULL first. Returns 0, EINVAL (bad
 * alignment, NULL kind or memptr), or ENOMEM; errno is not changed. `size` 0
 * returns 0 with *memptr NULL unless zero allocations are allowed.
 */
int memkind_posix_memalign(memkind_t kind, void **memptr, size_t alignment,
                           size_t size);

/**
 * Release the block at `ptr`. NULL is ignored. `kind` may be NULL, the wrong kind
 * or a destroyed kind's handle: the block always goes back to the heap that handed
 * it out (a fixed kind's region, an arena kind's arena, or the default heap). A
 * pointer that no heap of the library holds is ignored. Freeing a block twice is
 * undefined, as with free(3); the debug mode (see Conventions) reports it.
 */
void memkind_free(memkind_t kind, void *ptr);

/**
 * The number of usable bytes in the block at `ptr` (at least what was asked).
 * 0 for NULL or a pointer no heap of the library holds. `kind` may be NULL, wrong
 * or destroyed, as for memkind_free().
 */
size_t memkind_malloc_usable_size(memkind_t kind, void *ptr);

/**
 * memkind's defragmentation hint: may move the block to a less fragmented place.
 * Returns the new address, or NULL when the block was not moved (it is then still
 * valid at `ptr`).
 */
void *memkind_defrag_reallocate(memkind_t kind, void *ptr);

/* =====================================================================
 * 4. Statistics
 * ===================================================================== */

/** Refresh the statistics that memkind_get_stat() reads. Returns 0 or
 *  MEMKIND_ERROR_OPERATION_FAILED. */
int memkind_update_cached_stats(void);

/**
 * Read a statistic of `kind`, or of the whole library when `kind` is NULL, as of
 * the last memkind_update_cached_stats(). Blocks held in thread caches count as
 * allocated. Returns 0 or MEMKIND_ERROR_INVALID (bad stat, NULL value, destroyed
 * kind).
 */
int memkind_get_stat(memkind_t kind, memkind_stat_type stat, size_t *value);

/* =====================================================================
 * 5. Operations for building kinds
 *
 * These are the functions that memkind's ops tables are made of. A program may
 * build its own table from them, for example MEMKIND_FIXED_OPS with a wrapped
 * malloc, and pass it to memkind_create().
 * ===================================================================== */

/** The fixed kind's operations, as memkind_create_fixed() uses them. */
extern struct memkind_ops MEMKIND_FIXED_OPS;

/** The default kind's operations (the private jemalloc's default arenas). */
extern struct memkind_ops MEMKIND_DEFAULT_OPS;

/**
 * The fixed kind's "create" operation: allocates the kind's fixed-region metadata
 * and creates its jemalloc arena with the library's extent hooks. A kind made by
 * memkind_create(&MEMKIND_FIXED_OPS, ...) starts with no region: its allocations
 * fail with ENOMEM until memkind_fixed_add_region() gives it one.
 * memkind_create_fixed() passes its area here.
 */
int memkind_fixed_create(struct memkind *kind, struct memkind_ops *ops,
                         const char *name);

/**
 * The fixed kind's "destroy" operation: destroys the arena and the thread caches
 * and frees the metadata. It does not unmap or free the regions.
 */
int memkind_fixed_destroy(struct memkind *kind);

/**
 * The fixed kind's "mmap" operation: reserve `size` bytes (rounded up to whole
 * pages) of the kind's regions for the caller, outside the heap. `addr` is
 * ignored. Returns the address, or MAP_FAILED when no free extent is large enough.
 * The bytes stay reserved until the kind is destroyed.
 */
void *memkind_fixed_mmap(struct memkind *kind, void *addr, size_t size);

/** Default "create": checks the name. Returns 0 or MEMKIND_ERROR_INVALID. */
int memkind_default_create(struct memkind *kind, struct memkind_ops *ops,
                           const char *name);
/** Default "destroy": nothing to release. Returns 0. */
int memkind_default_destroy(struct memkind *kind);
/** malloc from the private jemalloc's default arenas. */
void *memkind_default_malloc(struct memkind *kind, size_t size);
/** calloc from the private jemalloc's default arenas (overflow-checked). */
void *memkind_default_calloc(struct memkind *kind, size_t num, size_t size);
/** posix_memalign from the default arenas; returns 0, EINVAL or ENOMEM. */
int memkind_default_posix_memalign(struct memkind *kind, void **memptr,
                                   size_t alignment, size_t size);
/** realloc in the default arenas, with memkind_realloc()'s rules. */
void *memkind_default_realloc(struct memkind *kind, void *ptr, size_t size);
/** free to the default arenas. */
void memkind_default_free(struct memkind *kind, void *ptr);
/** Map `size` bytes of anonymous memory (mmap(2) semantics, MAP_FAILED on error). */
void *memkind_default_mmap(struct memkind *kind, void *addr, size_t size);
/** Usable size of any block of the library (the kind is not needed). */
size_t memkind_default_malloc_usable_size(struct memkind *kind, void *ptr);
/** Statistics of the default arenas, as memkind_get_stat(). */
int memkind_default_get_stat(memkind_t kind, memkind_stat_type stat, size_t *value);
/** Returns EINVAL unless `alignment` is a power of two and a multiple of sizeof(void *). */
int memkind_posix_check_alignment(struct memkind *kind, size_t alignment);

/** jemalloc's extent hooks table (struct extent_hooks_s of jemalloc 5.x). */
struct extent_hooks_s;

/**
 * "create" for arena kinds: one jemalloc arena with jemalloc's own extent hooks
 * (ordinary memory). Returns 0 or MEMKIND_ERROR_ARENAS_CREATE.
 */
int memkind_arena_create(struct memkind *kind, struct memkind_ops *ops,
                         const char *name);
/**
 * Give `kind` one jemalloc arena that obtains its memory through `hooks` (which
 * must outlive the kind). jemalloc's metadata for the arena does not go through
 * the hooks. Returns 0 or MEMKIND_ERROR_ARENAS_CREATE.
 */
int memkind_arena_create_map(struct memkind *kind, struct extent_hooks_s *hooks);
/** "destroy" for arena kinds: destroys the thread caches and the arena. */
int memkind_arena_destroy(struct memkind *kind);
/** malloc in the kind's arena through the calling thread's cache for the kind. */
void *memkind_arena_malloc(struct memkind *kind, size_t size);
/** calloc in the kind's arena (overflow-checked, always zeroed). */
void *memkind_arena_calloc(struct memkind *kind, size_t num, size_t size);
/** posix_memalign in the kind's arena; returns 0, EINVAL or ENOMEM. */
int memkind_arena_posix_memalign(struct memkind *kind, void **memptr,
                                 size_t alignment, size_t size);
/** realloc in the kind's arena, with memkind_realloc()'s rules. */
void *memkind_arena_realloc(struct memkind *kind, void *ptr, size_t size);
/** free a block of the kind's arena. */
void memkind_arena_free(struct memkind *kind, void *ptr);
/** free a block whose kind is found from the pointer. */
void memkind_arena_free_with_kind_detect(void *ptr);
/** The arena that serves `kind` (one per kind here; `size` is not used). */
int memkind_thread_get_arena(struct memkind *kind, unsigned int *arena, size_t size);
/** Statistics of the kind's arena, as memkind_get_stat(). */
int memkind_arena_get_kind_stat(memkind_t kind, memkind_stat_type stat,
                                size_t *value);
/** Accepted for compatibility; fixed kinds keep one policy. Returns 0 or
 *  MEMKIND_ERROR_INVALID for an out-of-range policy. */
int memkind_arena_update_memory_usage_policy(struct memkind *kind,
                                             memkind_mem_usage_policy policy);
/** The defrag_reallocate operation of arena kinds (see memkind_defrag_reallocate). */
void *memkind_arena_defrag_reallocate(struct memkind *kind, void *ptr);

/* =====================================================================
 * 6. EXTENSIONS (not in memkind)
 * ===================================================================== */

/** Region flags (EXTENSION). */
enum memkind_region_flags {
    /** The region's memory is known to be zero-filled (for example fresh
     *  anonymous mmap), so calloc need not clear it the first time. */
    MEMKIND_REGION_ZEROED = 1u << 0,
    /** Give freed pages back to the operating system with madvise(2) instead of
     *  keeping them resident: for shared, tmpfs or file-backed regions, or to keep
     *  the resident size low. Slower when memory is reused soon. */
    MEMKIND_REGION_PURGE = 1u << 1
};

/**
 * EXTENSION. memkind_create_fixed() with region flags (MEMKIND_REGION_*).
 * Unknown flag bits give MEMKIND_ERROR_INVALID.
 */
int memkind_create_fixed_flags(void *addr, size_t size, unsigned flags,
                               memkind_t *kind);

/**
 * EXTENSION. Add the area [addr, addr + size) as a further region of the live fixed
 * kind `kind`. Same rules and errors as memkind_create_fixed(), plus
 * MEMKIND_ERROR_NOT_FIXED when `kind` is not a fixed kind. A kind holds at most
 * 64 regions (MEMKIND_ERROR_TOOMANY after that).
 */
int memkind_fixed_add_region(memkind_t kind, void *addr, size_t size,
                             unsigned flags);

/** Region statistics of a fixed kind (EXTENSION). All sizes in bytes. */
struct memkind_fixed_stats {
    size_t capacity;      /**< usable bytes of all regions (whole pages) */
    size_t used;          /**< bytes of the regions held by the heap (live blocks,
                               partly used pages, the thread caches' blocks and the
                               heap's cache of freed pages) */
    size_t free;          /**< capacity - used: bytes no part of the heap holds */
    size_t largest_free;  /**< the largest contiguous free extent; a request of this
                               size (or less) succeeds when it is at least a page:
                               blocks above 14 KiB take exactly their pages */
    size_t peak_used;     /**< the highest `used` seen (a shared kind: the most
                               bytes of its heap ever held at once, all processes) */
    size_t allocated;     /**< bytes in blocks handed out and not freed (small
                               blocks in thread caches count as allocated) */
    uint64_t failed_allocs; /**< requests that returned NULL / ENOMEM */
    unsigned regions;     /**< number of regions */
    size_t resident;      /**< bytes of the regions in resident pages (mincore(2)) */
};

/**
 * EXTENSION. Fill *out with the region statistics of the fixed kind `kind`, read
 * now (no memkind_update_cached_stats() needed). `resident` asks the kernel about
 * every page (mincore(2)): on regions of many GiB this call takes milliseconds or
 * more. Returns 0, MEMKIND_ERROR_INVALID (NULL argument), MEMKIND_ERROR_DESTROYED,
 * or MEMKIND_ERROR_NOT_FIXED.
 */
int memkind_fixed_get_stats(memkind_t kind, struct memkind_fixed_stats *out);

/**
 * EXTENSION. Return every freed page that the heap still caches to the region now,
 * every thread's cache for the kind included, so that the memory serves any size
 * at once and, for MEMKIND_REGION_PURGE regions, leaves the resident set. Once
 * every block is freed, `used` and `allocated` are then 0, whichever threads are
 * alive. Allocation does this by itself before it reports ENOMEM, so ENOMEM means
 * that no cache of the kind held memory that could serve the request. Returns 0, MEMKIND_ERROR_INVALID, MEMKIND_ERROR_DESTROYED,
 * MEMKIND_ERROR_NOT_FIXED.
 */
int memkind_fixed_purge(memkind_t kind);

/** What destroyed kinds still had allocated (EXTENSION). Counts since start-up,
 *  for the whole process. */
struct memkind_destroy_stats {
    uint64_t kinds;  /**< kinds destroyed while they held allocated blocks */
    uint64_t blocks; /**< blocks those kinds held at their destruction, in all */
    uint64_t bytes;  /**< the size classes of those blocks, summed */
};

/**
 * EXTENSION. Fill *out with the blocks that memkind_destroy_kind() released
 * because the program had not freed them: a leak detector for code that destroys
 * kinds, e.g. compare the figures before and after a unit of work. Blocks that
 * sat in a thread cache were freed and do not count. Covers every kind with its
 * own arena (fixed kinds and memkind_create() kinds on the memkind_arena_*
 * operations). Returns 0 or MEMKIND_ERROR_INVALID (NULL argument).
 */
int memkind_get_destroy_stats(struct memkind_destroy_stats *out);

/**
 * EXTENSION. Called when an allocation of `size` bytes fails on the fixed kind
 * `kind` even after the kind's cached free pages went back to its regions. The
 * callback may add a region (memkind_fixed_add_region()) or free memory, and
 * returns 0 to have the allocation tried once more, or non-zero to let it fail with
 * ENOMEM. It runs on the allocating thread with no lock of the library held; it
 * must not destroy `kind`.
 */
typedef int (*memkind_fixed_oom_fn)(memkind_t kind, size_t size, void *arg);

/**
 * EXTENSION. Set (or with NULL clear) the out-of-memory callback of a fixed kind.
 * Returns 0, MEMKIND_ERROR_INVALID, MEMKIND_ERROR_DESTROYED or
 * MEMKIND_ERROR_NOT_FIXED.
 */
int memkind_fixed_set_oom_callback(memkind_t kind, memkind_fixed_oom_fn fn, void *arg);

/** NUMA placement of a region made by memkind_region_map() (EXTENSION). */
enum memkind_region_policy {
    MEMKIND_REGION_POLICY_DEFAULT = 0,   /**< the process's policy; node ignored */
    MEMKIND_REGION_POLICY_BIND = 1,      /**< only on `node` */
    MEMKIND_REGION_POLICY_PREFERRED = 2, /**< on `node` while it has memory */
    MEMKIND_REGION_POLICY_INTERLEAVE = 3 /**< page by page over all nodes (node ignored) */
};

/** Options of memkind_region_map() (EXTENSION). */
enum memkind_region_map_flags {
    MEMKIND_REGION_MAP_HUGETLB = 1u << 0  /**< back the region with 2 MiB huge pages */
};

/**
 * EXTENSION. Map `size` bytes (rounded up to whole pages, or to 2 MiB with
 * MEMKIND_REGION_MAP_HUGETLB) of private anonymous memory placed by `policy` on
 * NUMA `node`, and store its address in *out. The memory is zero-filled: pass
 * MEMKIND_REGION_ZEROED when making a kind on it. Release it with
 * memkind_region_unmap() after the kind is destroyed.
 *
 * Returns 0, MEMKIND_ERROR_INVALID (NULL out, size 0, bad policy or flags, node
 * out of range), MEMKIND_ERROR_UNAVAILABLE (NUMA policy asked on a machine
 * without NUMA support), MEMKIND_ERROR_HUGETLB (no huge pages to be had),
 * MEMKIND_ERROR_MMAP, or MEMKIND_ERROR_MBIND.
 */
int memkind_region_map(void **out, size_t size, int policy, int node,
                       unsigned flags);

/**
 * EXTENSION. Unmap a region made by memkind_region_map() with the same size and
 * flags. Returns 0, MEMKIND_ERROR_INVALID or MEMKIND_ERROR_MMAP.
 */
int memkind_region_unmap(void *addr, size_t size, unsigned flags);

/* =====================================================================
 * 7. EXTENSIONS: shared kinds
 *
 * A shared kind is one heap in one shared memory segment (a POSIX shared memory
 * object, or an anonymous memfd) that several processes use at once. Each
 * process maps the segment (at an address of its own), has its own jemalloc
 * arena and thread caches for the heap, and takes pages from one page map that
 * lives in the segment. memkind_malloc(), memkind_calloc(),
 * memkind_posix_memalign(), memkind_realloc(), memkind_free() (also with a NULL
 * kind) and memkind_malloc_usable_size() work on a shared kind as on any kind,
 * and any process may free or resize any block of the heap, whichever process
 * allocated it.
 *
 * Blocks are named across processes by offset (memkind_shared_offset(),
 * memkind_shared_ptr()): the offset of a block is the same in every process,
 * its address is not.
 *
 * A process that dies (even by SIGKILL while it holds the heap's lock) does not
 * stop the others: the next process to take the lock repairs the page map. The
 * dead process's blocks stay valid (other processes may still use and free
 * them) until memkind_shared_reclaim() declares them garbage, which also
 * returns the pages its caches held. Whether a process lives is told by a lock
 * that it holds on the segment's file and that the kernel drops when it dies,
 * never by reading /proc; when it cannot be told, the process counts as alive.
 * A child of fork() is attached in its own right: it takes a process slot of
 * its own at its first allocation (a child that only execs takes none) and
 * allocates from its own arena.
 *
 * The segment is checked as input from an untrusted process: a damaged header,
 * page map, slot or lock gives MEMKIND_ERROR_SHARED_CORRUPT (or NULL from an
 * allocation), never a read or write outside the mapping or a wait beyond
 * MEMKIND_SHARED_LOCK_TIMEOUT_MS.
 * docs/shared.md describes the model, its costs and its limits.
 * ===================================================================== */

/** Process slots of a shared heap: processes attached at once, plus dead ones
 *  not yet reclaimed (EXTENSION). */
#define MEMKIND_SHARED_MAX_PROCESSES 64
/** The longest a process waits for a shared heap's lock (EXTENSION): a lock held
 *  longer (by a stopped process, or a damaged lock word) makes the call fail
 *  (MEMKIND_ERROR_SHARED_CORRUPT from the calls that return a code, NULL with
 *  ENOMEM from the allocation calls) instead of waiting for ever. Every change
 *  of the page map takes the lock for a short time; a process killed while it
 *  holds it does not count (the next one takes it at once and repairs). */
#define MEMKIND_SHARED_LOCK_TIMEOUT_MS 10000
/** Flag of memkind_shared_create() (EXTENSION): the name is removed when the last
 *  live process detaches (memkind_shared_detach() or memkind_destroy_kind()), so
 *  that a heap used by a group of processes goes away with them. Processes that
 *  died attached do not count; a heap whose processes all died keeps its name
 *  until memkind_shared_unlink(). */
#define MEMKIND_SHARED_UNLINK_ON_LAST_DETACH 1

/**
 * EXTENSION. Create a shared heap of `size` usable bytes (rounded up to whole
 * pages) and attach the calling process to it. `name` is a POSIX shared memory
 * name ("/name", see shm_open(3)), created exclusively; NULL makes an anonymous
 * memfd instead, which other processes reach through memkind_shared_fd() (passed
 * over a UNIX socket, or inherited) and memkind_shared_attach_fd(). The segment
 * is somewhat larger than `size`: a header and 8 bytes per page of page map.
 * Every page of the segment is reserved now (posix_fallocate), so a full
 * /dev/shm fails here, never with SIGBUS later. A size that memory and swap (and,
 * for a name, the free space of /dev/shm) could never back is refused before
 * anything is reserved, and the reservation goes in steps of 64 MiB, each only
 * while the memory left after it stays above 1/32 of RAM (at least 64 MiB): a
 * memfd has no size limit of its own, and reserving more than the machine holds
 * would wake the OOM killer. `flags` is 0 or MEMKIND_SHARED_UNLINK_ON_LAST_DETACH.
 *
 * Returns 0 and stores the kind in *kind, or:
 * - MEMKIND_ERROR_INVALID: kind is NULL, size is 0 or too large, unknown flags, or
 *   a name that shm_open() refuses;
 * - MEMKIND_ERROR_SHARED_EXISTS: a segment of that name exists;
 * - MEMKIND_ERROR_SHARED_NO_SPACE: the pages could not be reserved, or more than
 *   the machine could back was asked;
 * - MEMKIND_ERROR_MMAP, MEMKIND_ERROR_TOOMANY, MEMKIND_ERROR_ARENAS_CREATE,
 *   MEMKIND_ERROR_MALLOC, MEMKIND_ERROR_OPERATION_FAILED (another system call
 *   failed; errno tells which).
 * On failure nothing is left behind (a named segment made here is unlinked).
 */
int memkind_shared_create(const char *name, size_t size, unsigned flags,
                          memkind_t *kind);

/**
 * EXTENSION. Attach the calling process to the shared heap `name` (as given to
 * memkind_shared_create()). Returns 0 and stores a kind for it in *kind, or:
 * - MEMKIND_ERROR_INVALID: NULL argument;
 * - MEMKIND_ERROR_SHARED_NOT_FOUND: no segment of that name;
 * - MEMKIND_ERROR_SHARED_BAD_MAGIC, MEMKIND_ERROR_SHARED_VERSION,
 *   MEMKIND_ERROR_SHARED_SIZE: the segment is not a usable shared heap;
 * - MEMKIND_ERROR_SHARED_FULL: every process slot is held by a live process
 *   (when none is free, the attach first reclaims the dead processes, as
 *   memkind_shared_reclaim() does, and takes one of their slots);
 * - MEMKIND_ERROR_SHARED_CORRUPT: the heap's lock could not be taken (see
 *   MEMKIND_SHARED_LOCK_TIMEOUT_MS);
 * - MEMKIND_ERROR_REGION_OVERLAP is not possible (the segment is mapped anew);
 *   MEMKIND_ERROR_MMAP, MEMKIND_ERROR_TOOMANY, MEMKIND_ERROR_ARENAS_CREATE,
 *   MEMKIND_ERROR_MALLOC, MEMKIND_ERROR_OPERATION_FAILED as for create.
 * A process may attach to the same heap more than once; each attachment is a
 * kind with its own process slot.
 */
int memkind_shared_attach(const char *name, memkind_t *kind);

/**
 * EXTENSION. memkind_shared_attach() for a segment given as an open file
 * descriptor (a memfd from memkind_shared_fd(), or an shm or tmpfs file opened
 * read-write). The file is opened anew through /proc/self/fd (an open file
 * description of the attachment's own, which its liveness lock needs); where
 * that fails the descriptor is duplicated and the attachment counts as alive
 * until it detaches. The caller keeps its own descriptor. Returns the same codes
 * as memkind_shared_attach(), MEMKIND_ERROR_INVALID for a negative fd.
 */
int memkind_shared_attach_fd(int fd, memkind_t *kind);

/**
 * EXTENSION. Detach the calling process from a shared kind and destroy the kind
 * (memkind_destroy_kind() does the same for a shared kind). Blocks that other
 * processes freed to this process are taken in, the thread caches are flushed
 * and every page the process no longer needs goes back to the heap. Blocks of
 * this process that are still allocated stay valid for the other processes; the
 * pages that hold them stay in the process's slot until they are freed (large
 * blocks) or memkind_shared_reclaim() declares them garbage (small blocks).
 * The segment itself is not removed: see memkind_shared_unlink().
 * Returns 0, MEMKIND_ERROR_INVALID, MEMKIND_ERROR_DESTROYED or
 * MEMKIND_ERROR_NOT_SHARED.
 */
int memkind_shared_detach(memkind_t kind);

/**
 * EXTENSION. Remove the name of a shared heap (shm_unlink(3)). Processes
 * attached keep using it; the memory goes when the last one detaches or exits.
 * Returns 0, MEMKIND_ERROR_INVALID (NULL) or MEMKIND_ERROR_SHARED_NOT_FOUND.
 */
int memkind_shared_unlink(const char *name);

/**
 * EXTENSION. The file descriptor of a shared kind's segment (owned by the kind:
 * do not close it; dup it to keep it), or MEMKIND_ERROR_INVALID /
 * MEMKIND_ERROR_DESTROYED / MEMKIND_ERROR_NOT_SHARED. In a child of fork() the
 * number stays the same but refers to a new open file description of the same
 * segment (the child's own).
 */
int memkind_shared_fd(memkind_t kind);

/**
 * EXTENSION. The name of a shared kind's segment as given at creation, or NULL
 * for a memfd, for a kind attached by descriptor and for any kind that is not a
 * live shared kind. The string belongs to the kind.
 */
const char *memkind_shared_name(memkind_t kind);

/**
 * EXTENSION. The offset of `ptr` in the shared kind's segment, the same in
 * every process attached to it. Offsets of blocks are never 0. Returns 0 when
 * `kind` is not a live shared kind or `ptr` does not lie in its heap.
 */
uint64_t memkind_shared_offset(memkind_t kind, const void *ptr);

/**
 * EXTENSION. The address in the calling process of `offset` in the shared
 * kind's segment: the inverse of memkind_shared_offset(). Returns NULL with
 * errno EINVAL when `kind` is not a live shared kind or `offset` does not lie
 * in its heap (the header and the page map are not part of it).
 */
void *memkind_shared_ptr(memkind_t kind, uint64_t offset);

/** Statistics of a shared heap (EXTENSION). Sizes in bytes. */
struct memkind_shared_stats {
    size_t segment_size;    /**< the segment: header, page map and heap */
    size_t capacity;        /**< usable bytes of the heap */
    size_t used;            /**< bytes of pages held by some process (its slabs, its
                                 large blocks, its arena's cache, the large block it
                                 parked), dead processes' included */
    size_t free;            /**< capacity - used */
    size_t largest_free;    /**< the largest run of free pages */
    size_t dead_used;       /**< of `used`, the pages held by dead or detached
                                 processes (memkind_shared_reclaim() returns those) */
    unsigned processes;     /**< processes attached and alive */
    unsigned dead_processes;/**< slots of dead or detached processes still holding
                                 pages */
    uint64_t recoveries;    /**< times a process repaired the page map after its
                                 lock holder died */
    /* This process (this attachment): */
    unsigned slot;          /**< its process slot; MEMKIND_SHARED_MAX_PROCESSES while
                                 it has none (a child of fork() before its first
                                 allocation) */
    size_t process_used;    /**< bytes of pages it holds */
    size_t process_allocated; /**< bytes of its blocks handed out and not freed,
                                   including blocks freed by other processes that it
                                   has not taken in yet (not its parked large
                                   block, which is free) */
    uint64_t remote_frees;  /**< blocks other processes freed to it */
};

/**
 * EXTENSION. Fill *out with the statistics of the shared heap behind `kind`,
 * read now. Also notices processes that died. Returns 0, MEMKIND_ERROR_INVALID,
 * MEMKIND_ERROR_DESTROYED, MEMKIND_ERROR_NOT_SHARED or
 * MEMKIND_ERROR_SHARED_CORRUPT (the heap's lock could not be taken).
 */
int memkind_shared_get_stats(memkind_t kind, struct memkind_shared_stats *out);

/**
 * EXTENSION. Declare the blocks of every process that died or detached garbage
 * and give their pages back to the heap: small blocks (in slabs of the dead
 * process), large blocks it allocated, the pages its arena and caches held. Its
 * process slot becomes free. A block of a dead process must not be used or
 * freed after this call. Also does memkind_fixed_purge() for the calling
 * process, and gives back the large block each other process keeps parked for
 * reuse (docs/shared.md). Stores the bytes returned in *bytes (all of these but
 * the calling process's purge) when `bytes` is not NULL.
 * A process whose liveness cannot be told (see the section's introduction) is
 * never reclaimed. Returns 0, MEMKIND_ERROR_INVALID, MEMKIND_ERROR_DESTROYED,
 * MEMKIND_ERROR_NOT_SHARED or MEMKIND_ERROR_SHARED_CORRUPT.
 */
int memkind_shared_reclaim(memkind_t kind, size_t *bytes);

#ifdef __cplusplus
}
#endif

#endif /* MEMKIND_FIXED_H */
