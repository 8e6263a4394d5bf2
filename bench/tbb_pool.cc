// tbb_pool.cc - a C interface to tbbmalloc's memory pools (rml::pool_*), which
// exist only as C++ functions. bench/setup_competitors.sh compiles it against Debian's
// libtbbmalloc.so.2 into .deps/bench/libmkfbench_tbbpool.so, and bench/heap_tbbpool.c
// loads that with dlopen(). Not built by Bazel: the benchmark runs without it.
//
// The pool takes its memory from two callbacks of the caller's (what oneAPI's UMF
// "scalable" pool does over a memory provider): bench/heap_tbbpool.c hands out
// pieces of its region there.
#include <cstddef>
#include <cstdint>

#include <oneapi/tbb/scalable_allocator.h>

extern "C" {

// What the C side passes: its raw-memory callbacks and their argument.
struct mkfb_tbb_raw {
    void *(*alloc)(void *arg, size_t *bytes); // *bytes: asked for, in; given, out
    int (*free)(void *arg, void *ptr, size_t bytes); // 0: released
    void *arg;
};

}

namespace {

// The pool's id is the address of the caller's mkfb_tbb_raw, which outlives it.
void *raw_alloc(std::intptr_t id, std::size_t &bytes)
{
    const mkfb_tbb_raw *raw = reinterpret_cast<const mkfb_tbb_raw *>(id);
    size_t n = bytes;
    void *p = raw->alloc(raw->arg, &n);
    if (p != nullptr)
        bytes = n;
    return p;
}

int raw_free(std::intptr_t id, void *ptr, std::size_t bytes)
{
    const mkfb_tbb_raw *raw = reinterpret_cast<const mkfb_tbb_raw *>(id);
    return raw->free(raw->arg, ptr, bytes);
}

} // namespace

extern "C" {

// A pool whose memory comes from `raw` (which must outlive it); NULL on failure.
// Default granularity, memory given back through raw->free when the pool is done
// with it (neither fixedPool nor keepAllMemory).
__attribute__((visibility("default"))) void *mkfb_tbb_pool_create(const mkfb_tbb_raw *raw)
{
    rml::MemPoolPolicy policy(raw_alloc, raw_free);
    rml::MemoryPool *pool = nullptr;
    if (rml::pool_create_v1(reinterpret_cast<std::intptr_t>(raw), &policy, &pool) != rml::POOL_OK)
        return nullptr;
    return pool;
}

__attribute__((visibility("default"))) int mkfb_tbb_pool_destroy(void *pool)
{
    return rml::pool_destroy(static_cast<rml::MemoryPool *>(pool)) ? 0 : -1;
}

__attribute__((visibility("default"))) void *mkfb_tbb_pool_malloc(void *pool, size_t size)
{
    return rml::pool_malloc(static_cast<rml::MemoryPool *>(pool), size);
}

__attribute__((visibility("default"))) void mkfb_tbb_pool_free(void *pool, void *ptr)
{
    rml::pool_free(static_cast<rml::MemoryPool *>(pool), ptr);
}

__attribute__((visibility("default"))) void *mkfb_tbb_pool_realloc(void *pool, void *ptr,
                                                                   size_t size)
{
    return rml::pool_realloc(static_cast<rml::MemoryPool *>(pool), ptr, size);
}

} // extern "C"
