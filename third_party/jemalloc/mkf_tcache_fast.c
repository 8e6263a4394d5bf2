/*
 * mkf_tcache_fast.c - a fast path for jemalloc's explicit thread caches.
 *
 * Written for memkind-fixed; not part of jemalloc. tools/setup.sh compiles it
 * inside the configured jemalloc 5.3.0 source tree, with jemalloc's own flags and
 * private namespace, and adds the object to libmkf_jemalloc.a.
 *
 * jemalloc's malloc()/free() have a fast path for the implicit per-thread cache,
 * but mallocx()/dallocx() with MALLOCX_TCACHE(t) always take the general path.
 * memkind-fixed uses one explicit cache per (thread, kind), so these two functions
 * give that pair the same treatment:
 *
 *   mkf_je_tc_malloc(size, t, a)  pops a block off cache t's bin for `size`, and
 *                                 otherwise calls mallocx() with MALLOCX_ARENA(a) |
 *                                 MALLOCX_TCACHE(t), which is always correct;
 *   mkf_je_tc_free(ptr, t)        pushes a small block onto cache t's bin, and
 *                                 otherwise returns false: the caller then frees
 *                                 it with dallocx(), or as a block jemalloc does
 *                                 not know (memkind-fixed's large blocks).
 *
 * t = UINT_MAX means "no cache" (MALLOCX_TCACHE_NONE).
 *
 * Which requests take the fast path:
 * - malloc: 1 <= size <= SC_LOOKUP_MAXCLASS (a small bin), the bin not empty;
 * - free: the rtree cache of this thread knows the pointer and says "slab" (a
 *   small block), the bin not full;
 * - both: the thread's tsd is nominal and no thread event (tcache GC, decay,
 *   profiling sample, stats interval, ...) is due. jemalloc folds both into one
 *   comparison: the "next event fast" thresholds in the tsd are 0 whenever the
 *   tsd is not nominal, before jemalloc is initialised, or in a reentrant call.
 *   The fast path advances thread_allocated / thread_deallocated exactly as the
 *   slow path would, so events keep firing on schedule.
 *
 * Correctness rests on one rule that the caller keeps: cache t is only ever used
 * with arena a. The slow path fills cache t's bins from arena a, so a block popped
 * here comes from arena a; a block pushed here is one the caller frees to the kind
 * that owns arena a (the same contract dallocx(ptr, MALLOCX_TCACHE(t)) has).
 *
 * More uses of jemalloc's internals live here, at the end of the file, for the
 * same reason (they need jemalloc's private headers): mkf_je_arena_of, the arena
 * of a pointer, mkf_je_arena_live, an arena's live block count,
 * mkf_je_block_check, whether a pointer is a live block (debug mode), and
 * mkf_je_arena_coalesce_eagerly, one setting of a new arena.
 */
#include "jemalloc/internal/jemalloc_preamble.h"
#include "jemalloc/internal/jemalloc_internal_includes.h"

#include "jemalloc/internal/assert.h"
#include "jemalloc/internal/cache_bin.h"
#include "jemalloc/internal/emap.h"
#include "jemalloc/internal/sz.h"
#include "jemalloc/internal/thread_event.h"

/* Our entry points: global, and hidden like the rest of the archive. */
#define MKF_TC_ENTRY __attribute__((visibility("hidden")))

MKF_TC_ENTRY void *mkf_je_tc_malloc(size_t size, unsigned tcache_ind,
    unsigned arena_ind);
MKF_TC_ENTRY bool mkf_je_tc_free(void *ptr, unsigned tcache_ind);
MKF_TC_ENTRY int mkf_je_arena_of(const void *ptr, unsigned *out);
MKF_TC_ENTRY int mkf_je_arena_live(unsigned arena_ind, uint64_t *blocks,
    uint64_t *bytes);
MKF_TC_ENTRY int mkf_je_block_check(const void *ptr, unsigned *arena_out);
MKF_TC_ENTRY int mkf_je_arena_coalesce_eagerly(unsigned arena_ind);

/*
 * The calling thread's tsd, fetched once: the empty asm hides that the pointer is
 * a TLS address, so the compiler keeps it in a register instead of computing it
 * again (in a shared object, a second __tls_get_addr call).
 */
static inline tsd_t *
mkf_tc_tsd(void) {
	tsd_t *tsd = tsd_get(false);
	__asm__("" : "+r"(tsd));
	return tsd;
}

/*
 * MALLOCX_ARENA(arena_ind) | MALLOCX_TCACHE(tcache_ind), shifted as unsigned (the
 * macros' int shift overflows from arena 2047 up). tcache_ind UINT_MAX gives
 * MALLOCX_TCACHE_NONE.
 */
static inline int
mkf_tc_flags(unsigned tcache_ind, unsigned arena_ind) {
	return (int)(((arena_ind + 1U) << 20) | ((tcache_ind + 2U) << 8));
}

/*
 * The explicit cache behind index `ind`, or NULL when the fast path cannot use it:
 * no cache (UINT_MAX), none created yet, or flushed (tcache.flush leaves a marker
 * that the slow path replaces with a fresh cache).
 */
static inline tcache_t *
mkf_tc_explicit(unsigned ind) {
	if (unlikely(ind > MALLOCX_TCACHE_MAX)) {
		return NULL;
	}
	tcaches_t *table = tcaches;
	if (unlikely(table == NULL)) {
		return NULL;
	}
	tcache_t *tc = table[ind].tcache;
	if (unlikely((uintptr_t)tc <= (uintptr_t)TCACHES_ELM_NEED_REINIT)) {
		return NULL;
	}
	return tc;
}

void *
mkf_je_tc_malloc(size_t size, unsigned tcache_ind, unsigned arena_ind) {
	/* size 0 is left to mallocx(); the lookup table starts at 1 byte. */
	if (likely(size - 1 < SC_LOOKUP_MAXCLASS)
	    && !(tsd_get_allocates() && unlikely(!malloc_initialized()))) {
		tsd_t *tsd = mkf_tc_tsd();
		if (likely(tsd != NULL)) {
			szind_t binind;
			size_t usize;
			sz_size2index_usize_fastpath(size, &binind, &usize);
			uint64_t allocated, threshold;
			te_malloc_fastpath_ctx(tsd, &allocated, &threshold);
			uint64_t allocated_after = allocated + usize;
			/* Also false when the tsd is not nominal (threshold 0). */
			if (likely(allocated_after < threshold)) {
				assert(tsd_fast(tsd));
				assert(binind < SC_NBINS);
				tcache_t *tc = mkf_tc_explicit(tcache_ind);
				if (likely(tc != NULL)) {
					cache_bin_t *bin = &tc->bins[binind];
					bool hit;
					/* Above the low-water mark: no bookkeeping. */
					void *ret = cache_bin_alloc_easy(bin, &hit);
					if (unlikely(!hit)) {
						ret = cache_bin_alloc(bin, &hit);
					}
					if (likely(hit)) {
						*tsd_thread_allocatedp_get(tsd) =
						    allocated_after;
						if (config_stats) {
							bin->tstats.nrequests++;
						}
						return ret;
					}
				}
			}
		}
	}
	return je_mallocx(size, mkf_tc_flags(tcache_ind, arena_ind));
}

bool
mkf_je_tc_free(void *ptr, unsigned tcache_ind) {
	tsd_t *tsd = mkf_tc_tsd();
	/*
	 * Size checks (--enable-opt-size-checks) compare against a full emap
	 * lookup; leave that configuration to dallocx(). A miss of the thread's
	 * rtree cache is left to the caller too: the address may be one that
	 * jemalloc does not know.
	 */
	if (likely(tsd != NULL) && !config_opt_size_checks) {
		emap_alloc_ctx_t ctx;
		bool miss = emap_alloc_ctx_try_lookup_fast(tsd, &arena_emap_global,
		    ptr, &ctx);
		/*
		 * Not a slab: large, or a promoted profiling sample. Pointers of
		 * the use-after-free detection's special alignment go slow too.
		 */
		if (likely(!miss && ctx.slab) && !(config_uaf_detection
		    && cache_bin_nonfast_aligned(ptr))) {
			assert(ctx.szind < SC_NBINS);
			uint64_t deallocated, threshold;
			te_free_fastpath_ctx(tsd, &deallocated, &threshold);
			uint64_t deallocated_after = deallocated
			    + sz_index2size(ctx.szind);
			if (likely(deallocated_after < threshold)) {
				assert(tsd_fast(tsd));
				tcache_t *tc = mkf_tc_explicit(tcache_ind);
				if (likely(tc != NULL) && likely(
				    cache_bin_dalloc_easy(&tc->bins[ctx.szind],
				    ptr))) {
					*tsd_thread_deallocatedp_get(tsd) =
					    deallocated_after;
					return true;
				}
			}
		}
	}
	return false;
}

/*
 * mkf_je_arena_of: the arena index of the extent holding `ptr`, or ENOENT when
 * jemalloc does not know the address. jemalloc's "arenas.lookup" reads its radix
 * tree as if the address were known, and faults on one it never mapped (a pointer
 * of another allocator given to memkind_detect_kind(), say); this reads it the
 * independent way, which reports a miss instead.
 */
int
mkf_je_arena_of(const void *ptr, unsigned *out) {
	emap_full_alloc_ctx_t ctx;
	if (emap_full_alloc_ctx_try_lookup(tsdn_fetch(), &arena_emap_global, ptr,
	    &ctx) || ctx.edata == NULL) {
		return ENOENT;
	}
	*out = edata_arena_ind_get(ctx.edata);
	return 0;
}

/*
 * mkf_je_arena_live: the number of blocks of arena `arena_ind` handed out and not
 * yet freed, and the sum of their size classes in bytes. Blocks sitting in a
 * thread cache count as handed out (flush the caches first to leave them out).
 * Reads the arena's own counters (the bins' current regions, the large size
 * classes' mallocs minus deallocs) under their locks, without the global
 * "epoch" refresh, which merges the statistics of every arena.
 */
int
mkf_je_arena_live(unsigned arena_ind, uint64_t *blocks, uint64_t *bytes) {
	*blocks = 0;
	*bytes = 0;
	if (!config_stats) {
		return ENOENT;
	}
	tsdn_t *tsdn = tsdn_fetch();
	arena_t *arena = arena_get(tsdn, arena_ind, false);
	if (arena == NULL) {
		return ENOENT;
	}
	for (szind_t i = 0; i < SC_NBINS; i++) {
		for (unsigned j = 0; j < bin_infos[i].n_shards; j++) {
			bin_t *bin = arena_get_bin(arena, i, j);
			malloc_mutex_lock(tsdn, &bin->lock);
			size_t n = bin->stats.curregs;
			malloc_mutex_unlock(tsdn, &bin->lock);
			*blocks += n;
			*bytes += (uint64_t)n * bin_infos[i].reg_size;
		}
	}
	LOCKEDINT_MTX_LOCK(tsdn, arena->stats.mtx);
	for (szind_t i = 0; i < SC_NSIZES - SC_NBINS; i++) {
		uint64_t nmalloc = locked_read_u64(tsdn,
		    LOCKEDINT_MTX(arena->stats.mtx),
		    &arena->stats.lstats[i].nmalloc);
		uint64_t ndalloc = locked_read_u64(tsdn,
		    LOCKEDINT_MTX(arena->stats.mtx),
		    &arena->stats.lstats[i].ndalloc);
		uint64_t n = nmalloc > ndalloc ? nmalloc - ndalloc : 0;
		*blocks += n;
		*bytes += n * sz_index2size(SC_NBINS + i);
	}
	LOCKEDINT_MTX_UNLOCK(tsdn, arena->stats.mtx);
	return 0;
}

/*
 * mkf_je_block_check: is `ptr` the start of a block that is handed out? 0 (and the
 * block's arena in *arena_out), ENOENT when jemalloc knows no extent there, EINVAL
 * for an address inside a block but not at its start, EALREADY for a block that
 * is free. A small block's state is its slab's bitmap, read under the bin's lock;
 * a block sitting in a thread cache is "handed out" there, so the answer is exact
 * only when no thread cache is in use (memkind-fixed's debug mode).
 */
int
mkf_je_block_check(const void *ptr, unsigned *arena_out) {
	tsdn_t *tsdn = tsdn_fetch();
	emap_full_alloc_ctx_t ctx;
	if (emap_full_alloc_ctx_try_lookup(tsdn, &arena_emap_global, ptr, &ctx)
	    || ctx.edata == NULL) {
		return ENOENT;
	}
	edata_t *edata = ctx.edata;
	if (edata_state_get(edata) != extent_state_active) {
		/* A freed large block, cached by its arena. */
		return EALREADY;
	}
	unsigned arena_ind = edata_arena_ind_get(edata);
	*arena_out = arena_ind;
	if (!edata_slab_get(edata)) {
		return ptr == edata_addr_get(edata) ? 0 : EINVAL;
	}
	szind_t binind = edata_szind_get(edata);
	const bin_info_t *info = &bin_infos[binind];
	uintptr_t diff = (uintptr_t)ptr - (uintptr_t)edata_addr_get(edata);
	if (diff % info->reg_size != 0) {
		return EINVAL;
	}
	arena_t *arena = arena_get(tsdn, arena_ind, false);
	if (arena == NULL) {
		return ENOENT;
	}
	bin_t *bin = arena_get_bin(arena, binind, edata_binshard_get(edata));
	malloc_mutex_lock(tsdn, &bin->lock);
	bool live = bitmap_get(edata_slab_data_get(edata)->bitmap,
	    &info->bitmap_info, diff / info->reg_size);
	malloc_mutex_unlock(tsdn, &bin->lock);
	return live ? 0 : EALREADY;
}

/*
 * mkf_je_arena_coalesce_eagerly: make the dirty extent cache of an arena merge a
 * freed extent with its free neighbours at once, as jemalloc does for its muzzy
 * cache, instead of delaying it (jemalloc's choice for dirty extents, which keeps
 * freed slabs apart for reuse by the same size, at less cost). In a region of
 * fixed size a delayed merge loses memory: a region filled with 12 KiB slabs and
 * freed would serve 8 KiB requests by splitting each cached 12 KiB extent,
 * leaving 4 KiB pieces that nothing can use. Extents already cached stay as
 * they are (purge them to merge them in the region map).
 */
int
mkf_je_arena_coalesce_eagerly(unsigned arena_ind) {
	tsdn_t *tsdn = tsdn_fetch();
	arena_t *arena = arena_get(tsdn, arena_ind, false);
	if (arena == NULL) {
		return ENOENT;
	}
	ecache_t *dirty = &arena->pa_shard.pac.ecache_dirty;
	malloc_mutex_lock(tsdn, &dirty->mtx);
	dirty->delay_coalesce = false;
	malloc_mutex_unlock(tsdn, &dirty->mtx);
	return 0;
}
