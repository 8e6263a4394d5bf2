/*
 * heap_mimalloc.c - competitors: mimalloc arenas over the region, in three
 * versions: Debian's libmimalloc2 (2.0.9), and 2.x and 3.x built by
 * bench/setup_competitors.sh from the C source that the crate libmimalloc-sys carries.
 *
 * The region becomes an exclusive arena (mi_manage_os_memory_ex(..., exclusive =
 * true, &id)); heaps made with mi_heap_new_in_arena(id) allocate only there. Two
 * things of mimalloc's shape how it is driven:
 * - A mimalloc heap belongs to one thread. The heap of the thread that opened the
 *   region is made at open; any other thread that allocates gets its own heap in the
 *   same arena on its first call (what a program using mimalloc from several
 *   threads must do too). Blocks are freed with mi_free() from any thread.
 * - An arena can never be given back. A later open of the same address range (the
 *   utilisation tests' fresh regions land where the last one was) takes the same
 *   arena again; create + destroy does not apply (n/a).
 * 2.x arenas start on a 32 MiB boundary (its segment size), so the part of the
 * region before the first boundary is left unused.
 *
 * All three export the same mi_* names: each is loaded with its own dlopen()
 * handle (RTLD_DEEPBIND, see bench_dlopen()).
 */
#include "bench.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

/* The calls made here, from mimalloc.h. mi_arena_id_t is an int in 2.x and a
 * pointer in 3.x: it is kept in an intptr_t that starts zeroed, which holds either
 * (little-endian x86-64: the int is its low half) and passes either in a register. */
typedef intptr_t arena_id;
struct mi_fns {
    bool (*manage_os_memory_ex)(void *start, size_t size, bool is_committed, bool is_large,
                                bool is_zero, int numa_node, bool exclusive, arena_id *id);
    void *(*heap_new_in_arena)(arena_id id);
    void *(*heap_malloc)(void *heap, size_t size);
    void *(*heap_realloc)(void *heap, void *p, size_t size);
    void (*free)(void *p);
    void (*heap_destroy)(void *heap);
    int (*version)(void);
};

#define MAX_ARENAS 64

struct lib {
    const char *file;  /* what bench_dlopen() loads */
    bool in_deps;
    size_t align;      /* where an arena may start */
    struct mi_fns fn;
    pthread_mutex_t lock;
    struct arena {
        uintptr_t start;
        size_t size;
        arena_id id;
        bool busy;     /* a heap is open on it */
    } arenas[MAX_ARENAS];
    int narenas;
    uint64_t gen;      /* heaps opened so far: tells a heap from an earlier one */
};

enum { LIB_DEBIAN, LIB_2, LIB_3, LIBS };
static struct lib libs[LIBS] = {
    [LIB_DEBIAN] = {"libmimalloc.so.2", false, 32u << 20, .lock = PTHREAD_MUTEX_INITIALIZER},
    [LIB_2] = {"mimalloc-2.3.2/libmimalloc.so", true, 32u << 20,
               .lock = PTHREAD_MUTEX_INITIALIZER},
    [LIB_3] = {"mimalloc-3.3.2/libmimalloc.so", true, 64u << 10,
               .lock = PTHREAD_MUTEX_INITIALIZER},
};

static const char *lib_load(struct lib *l)
{
    static const char *const names[] = {"mi_manage_os_memory_ex", "mi_heap_new_in_arena",
                                        "mi_heap_malloc",         "mi_heap_realloc",
                                        "mi_free",                "mi_heap_destroy",
                                        "mi_version"};
    const char *why = NULL;
    void *h = bench_dlopen(l->file, l->in_deps, &why);
    if (h == NULL ||
        !bench_dlsyms(h, names, (void **)&l->fn, sizeof(names) / sizeof(names[0]), &why))
        return why;
    return NULL;
}

static const char *load_debian(void) { return lib_load(&libs[LIB_DEBIAN]); }
static const char *load_2(void) { return lib_load(&libs[LIB_2]); }
static const char *load_3(void) { return lib_load(&libs[LIB_3]); }

struct heap {
    struct lib *lib;
    struct arena *arena;
    void *main;          /* the opening thread's heap */
    pthread_t owner;
    uint64_t gen;
};

/* This thread's heap for the last struct heap it used, per library. */
static __thread struct slot {
    struct heap *h;
    uint64_t gen;
    void *mh;
} slots[LIBS];

static struct heap *lib_open(struct lib *l, void *region, size_t size, bool zeroed)
{
    uintptr_t start = ((uintptr_t)region + l->align - 1) & ~(uintptr_t)(l->align - 1);
    uintptr_t end = (uintptr_t)region + size;
    if (end <= start)
        return NULL;
    size = (end - start) & ~(l->align - 1);
    struct heap *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    pthread_mutex_lock(&l->lock);
    struct arena *a = NULL;
    for (int i = 0; i < l->narenas && a == NULL; i++)
        if (l->arenas[i].start == start && l->arenas[i].size == size && !l->arenas[i].busy)
            a = &l->arenas[i];
    if (a == NULL && l->narenas < MAX_ARENAS) {
        arena_id id = 0;
        if (l->fn.manage_os_memory_ex((void *)start, size, true, false, zeroed, -1, true, &id))
            a = &l->arenas[l->narenas++];
        if (a != NULL)
            *a = (struct arena){start, size, id, false};
    }
    if (a != NULL) {
        a->busy = true;
        h->gen = ++l->gen;
    }
    pthread_mutex_unlock(&l->lock);
    if (a == NULL || (h->main = l->fn.heap_new_in_arena(a->id)) == NULL) {
        if (a != NULL)
            a->busy = false;
        free(h);
        return NULL;
    }
    h->lib = l;
    h->arena = a;
    h->owner = pthread_self();
    return h;
}

static void heap_close(struct heap *h)
{
    struct lib *l = h->lib;
    l->fn.heap_destroy(h->main);
    pthread_mutex_lock(&l->lock);
    h->arena->busy = false;
    pthread_mutex_unlock(&l->lock);
    struct slot *s = &slots[l - libs];
    if (s->h == h)
        s->h = NULL;
    free(h);
}

/* The calling thread's mimalloc heap for h. */
static inline void *thread_heap(struct heap *h)
{
    struct slot *s = &slots[h->lib - libs];
    if (__builtin_expect(s->h == h && s->gen == h->gen, 1))
        return s->mh;
    void *mh = pthread_equal(pthread_self(), h->owner) ? h->main
                                                       : h->lib->fn.heap_new_in_arena(h->arena->id);
    if (mh != NULL)
        *s = (struct slot){h, h->gen, mh};
    return mh;
}

static void *heap_alloc(struct heap *h, size_t size)
{
    void *mh = thread_heap(h);
    return mh != NULL ? h->lib->fn.heap_malloc(mh, size) : NULL;
}

static void heap_free(struct heap *h, void *ptr) { h->lib->fn.free(ptr); }

static void *heap_realloc(struct heap *h, void *ptr, size_t size)
{
    void *mh = thread_heap(h);
    return mh != NULL ? h->lib->fn.heap_realloc(mh, ptr, size) : NULL;
}

static struct heap *open_debian(void *r, size_t n, bool z) { return lib_open(&libs[LIB_DEBIAN], r, n, z); }
static struct heap *open_2(void *r, size_t n, bool z) { return lib_open(&libs[LIB_2], r, n, z); }
static struct heap *open_3(void *r, size_t n, bool z) { return lib_open(&libs[LIB_3], r, n, z); }

#define MI_TYPE(name_, id_, label_, about_, open_, load_)                                     \
    const struct heap_type name_ = {                                                          \
        .id = id_,                                                                            \
        .label = label_,                                                                      \
        .about = about_,                                                                      \
        .regional = true,                                                                     \
        .open = open_,                                                                        \
        .close = heap_close,                                                                  \
        .alloc = heap_alloc,                                                                  \
        .free = heap_free,                                                                    \
        .realloc = heap_realloc,                                                              \
        .load = load_,                                                                        \
        .no_destroy = true,                                                                   \
    };

MI_TYPE(heap_mi_debian, "mimalloc_2_0_9", "mimalloc 2.0.9",
        "mimalloc 2.0.9 (Debian libmimalloc2): an exclusive arena over the region "
        "(mi_manage_os_memory_ex) + mi_heap_new_in_arena, a heap per thread; mi_heap_malloc/"
        "realloc, mi_free",
        open_debian, load_debian)
MI_TYPE(heap_mi_2, "mimalloc_2_3", "mimalloc 2.3.2",
        "mimalloc 2.3.2 (C source of the crate libmimalloc-sys 0.1.49, built without malloc "
        "override): the same arena and heaps",
        open_2, load_2)
MI_TYPE(heap_mi_3, "mimalloc_3_3", "mimalloc 3.3.2",
        "mimalloc 3.3.2 (C source of the crate libmimalloc-sys 0.1.49, built without malloc "
        "override): the same arena and heaps",
        open_3, load_3)
