// boost_ipc.cc - a C interface to Boost.Interprocess's managed_shared_memory, with
// its two allocation algorithms (rbtree_best_fit, Boost's default, and
// simple_seq_fit), for the shared-heap benchmark (bench/shared/). Boost is
// header-only C++; bench/setup_competitors.sh compiles this file against Debian's
// libboost-dev into .deps/bench/libmkfbench_boostipc.so and bench/shared/heap_boost.c
// loads it with dlopen(). Not built by Bazel: the benchmark runs without it.
//
// Every function takes the algorithm (0: rbtree_best_fit, 1: simple_seq_fit) and
// the name without a leading '/' (Boost adds it). Handles are the
// managed_shared_memory objects; the allocation calls take the segment manager,
// which is what a C++ program calls through segment.allocate().
#include <cstddef>
#include <cstdint>
#include <new>

#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/interprocess/mem_algo/simple_seq_fit.hpp>

namespace bip = boost::interprocess;

namespace {

using rbtree_shm = bip::basic_managed_shared_memory<
    char, bip::rbtree_best_fit<bip::mutex_family>, bip::iset_index>;
using seqfit_shm = bip::basic_managed_shared_memory<
    char, bip::simple_seq_fit<bip::mutex_family>, bip::iset_index>;

template <class Shm> void *create(const char *name, size_t size)
{
    try {
        return new Shm(bip::create_only, name, size);
    } catch (...) {
        return nullptr;
    }
}

template <class Shm> void *attach(const char *name)
{
    try {
        return new Shm(bip::open_only, name);
    } catch (...) {
        return nullptr;
    }
}

template <class Shm> void *manager(void *shm)
{
    return static_cast<Shm *>(shm)->get_segment_manager();
}

template <class Shm> void *alloc(void *mgr, size_t size)
{
    return static_cast<typename Shm::segment_manager *>(mgr)->allocate(size, std::nothrow);
}

template <class Shm> void dealloc(void *mgr, void *p)
{
    static_cast<typename Shm::segment_manager *>(mgr)->deallocate(p);
}

} // namespace

extern "C" {

// A new segment of `size` bytes (the algorithm's header included), attached; NULL
// when it cannot be made (the name exists, no space).
__attribute__((visibility("default"))) void *mkfb_bip_create(int algo, const char *name,
                                                             size_t size)
{
    return algo == 0 ? create<rbtree_shm>(name, size) : create<seqfit_shm>(name, size);
}

// An existing segment, attached; NULL when there is none.
__attribute__((visibility("default"))) void *mkfb_bip_attach(int algo, const char *name)
{
    return algo == 0 ? attach<rbtree_shm>(name) : attach<seqfit_shm>(name);
}

// Unmaps the segment (the name stays).
__attribute__((visibility("default"))) void mkfb_bip_detach(int algo, void *shm)
{
    if (algo == 0)
        delete static_cast<rbtree_shm *>(shm);
    else
        delete static_cast<seqfit_shm *>(shm);
}

__attribute__((visibility("default"))) int mkfb_bip_remove(const char *name)
{
    return bip::shared_memory_object::remove(name) ? 0 : -1;
}

// The segment manager of an attached segment: the argument of the calls below.
__attribute__((visibility("default"))) void *mkfb_bip_manager(int algo, void *shm)
{
    return algo == 0 ? manager<rbtree_shm>(shm) : manager<seqfit_shm>(shm);
}

// The base address of the segment in this process: offsets are taken from it.
__attribute__((visibility("default"))) void *mkfb_bip_base(int algo, void *shm)
{
    return algo == 0 ? static_cast<rbtree_shm *>(shm)->get_address()
                     : static_cast<seqfit_shm *>(shm)->get_address();
}

// One entry point per algorithm for the hot calls: no switch on the way.
__attribute__((visibility("default"))) void *mkfb_bip_rbtree_malloc(void *mgr, size_t size)
{
    return alloc<rbtree_shm>(mgr, size);
}

__attribute__((visibility("default"))) void mkfb_bip_rbtree_free(void *mgr, void *p)
{
    dealloc<rbtree_shm>(mgr, p);
}

__attribute__((visibility("default"))) void *mkfb_bip_seqfit_malloc(void *mgr, size_t size)
{
    return alloc<seqfit_shm>(mgr, size);
}

__attribute__((visibility("default"))) void mkfb_bip_seqfit_free(void *mgr, void *p)
{
    dealloc<seqfit_shm>(mgr, p);
}

} // extern "C"
