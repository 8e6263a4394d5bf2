/*
 * mkf_tcache_fast.c - a fast path for jemalloc's explicit thread caches.
 *
 * Written for memkind-fixed; not part of jemalloc. tools/setup.sh compiles it
 * inside the configured jemalloc 5.3.0 source tree, with jemalloc's own flags and
 * private namespace, and adds the object to libmkf_jemalloc.a.
 *
 * jemalloc's malloc()/free() have a fast path for the implicit per-thread cache,
 * but mallocx()/dallocx() with MALLOCX_TCACHE(t) always take the general path.
 * memkind-fixed uses one explicit cache per (thread, kind), so these functions
 * give that pair the same treatment, and more: the whole fast path of
 * memkind_malloc() / memkind_free() after the kind's checks ends here, in a tail
 * call, so that neither side builds a stack frame.
 *
 *   mkf_je_tc_malloc(size, tc, hs, kind)  pops a block off cache tc's bin for
 *                          `size`; on any miss it returns
 *                          mkf_arena_malloc_slow(kind, size) (memkind-fixed's slow
 *                          path, which refills the cache through mallocx());
 *   mkf_je_tc_free(ptr, tc, hs, kind)     pushes a small block onto cache tc's bin;
 *                          otherwise it calls mkf_arena_free_slow(kind, ptr);
 *   mkf_je_tc_get(ind)     the cache behind explicit-cache index ind (the pointer
 *                          the two above take), NULL if there is none;
 *   mkf_je_tc_bin_each(tc, size, fn, ctx)  calls fn (unless NULL) for every
 *                          block that cache tc's bin of size's class holds now,
 *                          and returns how many (a shared heap records their
 *                          size class where other processes read it, after a
 *                          fill);
 *   mkf_je_tc_flush(ind)   empties that cache into its arena and keeps it (the
 *                          "tcache.flush" mallctl destroys it, so that the next
 *                          use re-creates it at another address).
 *
 * tc is never NULL: a (thread, kind) pair without a cache takes the slow path in
 * the core and never comes here.
 *
 * hs is the calling thread's reclaim handshake, two words owned by it: hs[0]
 * ("busy") is 1 while the thread uses one of its caches, hs[1] ("stop") is set by
 * a thread that wants to flush them (memkind-fixed's tcache.c has the protocol).
 * Here: store busy, read stop (a miss if set), use the cache, clear busy; busy is
 * cleared before a slow path is called, which takes the handshake its own way.
 * The two words are followed by the thread's tsd pointer (mkf_tc_tsd, mkf_je_tsd).
 *
 * Which requests take the fast path:
 * - malloc: 1 <= size <= SC_LOOKUP_MAXCLASS (a small bin; the caller sends
 *   nothing else), the bin not empty;
 * - free: the rtree cache of this thread knows the pointer and says "slab" (a
 *   small block), the bin not full;
 * - neither counts the block in the thread's allocated / deallocated bytes
 *   (jemalloc's thread events). Those events act on the thread's implicit
 *   cache (tcache GC, which never looks at explicit caches), on profiling
 *   samples (not configured) and on peak statistics; none concerns a fixed
 *   kind, and leaving them out takes the tsd's counters and thresholds (two
 *   loads, a store and a size lookup per call) off the path. The slow path,
 *   mallocx()/dallocx(), still counts what it serves. The tsd's state is not
 *   checked either: an explicit cache belongs to its thread whatever jemalloc
 *   thinks of that thread's tsd (being torn down, say), and the record that
 *   leads here is retired before its caches are destroyed (tcache.c).
 *
 * Correctness rests on one rule that the caller keeps: cache tc is only ever used
 * with the arena of `kind`. The slow path fills the cache's bins from that arena,
 * so a block popped here comes from it; a block pushed here is one the caller
 * frees to that kind (the contract dallocx(ptr, MALLOCX_TCACHE(t)) has).
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

/* Our entry points: global, and hidden like the rest of the archive. */
#define MKF_TC_ENTRY __attribute__((visibility("hidden")))

struct memkind;
MKF_TC_ENTRY void *mkf_je_tc_malloc(size_t size, void *tc, unsigned *hs,
    struct memkind *kind);
MKF_TC_ENTRY void mkf_je_tc_free(void *ptr, void *tc, unsigned *hs,
    struct memkind *kind);
MKF_TC_ENTRY void *mkf_je_tc_get(unsigned tcache_ind);
MKF_TC_ENTRY void *mkf_je_tsd(void);
MKF_TC_ENTRY int mkf_je_tc_flush(unsigned tcache_ind);
MKF_TC_ENTRY int mkf_je_arena_of(const void *ptr, unsigned *out);
MKF_TC_ENTRY int mkf_je_arena_live(unsigned arena_ind, uint64_t *blocks,
    uint64_t *bytes);
MKF_TC_ENTRY int mkf_je_block_check(const void *ptr, unsigned *arena_out);
MKF_TC_ENTRY int mkf_je_arena_coalesce_eagerly(unsigned arena_ind);
MKF_TC_ENTRY size_t mkf_je_tc_bin_each(void *tc, size_t size,
    void (*fn)(void *ctx, void *ptr, size_t usable), void *ctx);
static int park_set(tsdn_t *tsdn, unsigned ind, bool on);

/*
 * memkind-fixed's slow paths (core/src/arena.c), where every miss goes. Weak:
 * jemalloc's arena.c now calls into this file (parked slabs, below), so a
 * program that links the archive without memkind-fixed's core (the benchmark's
 * "jemalloc default" column) pulls this object in too, and never calls these.
 */
__attribute__((weak)) void *mkf_arena_malloc_slow(struct memkind *kind,
    size_t size);
__attribute__((weak)) void mkf_arena_free_slow(struct memkind *kind, void *ptr);

/*
 * The calling thread's tsd. memkind-fixed keeps it in the thread's handshake
 * record, right after the two handshake words (mkf_thread_caches in
 * core/src/internal.h), set once per thread from mkf_je_tsd(): a load, where
 * reaching jemalloc's TLS from a shared object is a call (a TLS descriptor's, or
 * __tls_get_addr) that also makes the function save registers. The tsd of a
 * thread stays at one address for the thread's life (its state, which the fast
 * path checks, is read through it).
 */
static inline tsd_t *
mkf_tc_tsd(unsigned *hs) {
	tsd_t *tsd;
	memcpy(&tsd, hs + 2, sizeof(tsd));
	return tsd;
}

/*
 * Enter the thread's cache section: false when a reclaim has asked the thread to
 * keep out. The signal fence only stops the compiler from moving the load of
 * `stop` above the store of `busy`; the reclaiming thread's membarrier() orders
 * the two in hardware (no fence here).
 */
static inline bool
mkf_tc_enter(unsigned *hs) {
	__atomic_store_n(&hs[0], 1, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (likely(__atomic_load_n(&hs[1], __ATOMIC_ACQUIRE) == 0)) {
		return true;
	}
	__atomic_store_n(&hs[0], 0, __ATOMIC_RELEASE);
	return false;
}

static inline void
mkf_tc_exit(unsigned *hs) {
	__atomic_store_n(&hs[0], 0, __ATOMIC_RELEASE);
}

/* The core checks the size against its own copy of the bound (MKF_TC_FAST_MAX,
 * core/src/internal.h) before it calls mkf_je_tc_malloc(). */
_Static_assert(SC_LOOKUP_MAXCLASS == 4096, "MKF_TC_FAST_MAX in core/src/internal.h");

void *
mkf_je_tc_malloc(size_t size, void *tc, unsigned *hs, struct memkind *kind) {
	/*
	 * The caller only comes here with 1 <= size <= SC_LOOKUP_MAXCLASS (see
	 * above) and a cache.
	 */
	assert(size - 1 < SC_LOOKUP_MAXCLASS);
	assert(tc != NULL);
	if (likely(mkf_tc_enter(hs))) {
		szind_t binind = sz_size2index_lookup(size);
		cache_bin_t *bin = &((tcache_t *)tc)->bins[binind];
		bool hit;
		void *ret = cache_bin_alloc_easy(bin, &hit);
		if (unlikely(!hit)) {
			ret = cache_bin_alloc(bin, &hit);
		}
		if (likely(hit)) {
			if (config_stats) {
				bin->tstats.nrequests++;
			}
			mkf_tc_exit(hs);
			return ret;
		}
		mkf_tc_exit(hs);
	}
	return mkf_arena_malloc_slow(kind, size);
}

void
mkf_je_tc_free(void *ptr, void *tc, unsigned *hs, struct memkind *kind) {
	/*
	 * Size checks (--enable-opt-size-checks) compare against a full emap
	 * lookup; leave that configuration to dallocx(). A miss of the thread's
	 * rtree cache goes slow too: the address may be one that jemalloc does
	 * not know (memkind-fixed's large blocks).
	 */
	assert(tc != NULL);
	if (!config_opt_size_checks
	    && likely(mkf_tc_enter(hs))) {
		tsd_t *tsd = mkf_tc_tsd(hs);
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
			if (likely(cache_bin_dalloc_easy(
			    &((tcache_t *)tc)->bins[ctx.szind], ptr))) {
				mkf_tc_exit(hs);
				return;
			}
		}
		mkf_tc_exit(hs);
	}
	mkf_arena_free_slow(kind, ptr);
}

void *
mkf_je_tsd(void) {
	return tsd_fetch();
}

/*
 * The explicit cache behind index `ind`, or NULL: none created, or flushed by the
 * "tcache.flush" mallctl (which leaves a marker that the next mallocx() replaces
 * with a fresh cache).
 */
void *
mkf_je_tc_get(unsigned ind) {
	if (ind > MALLOCX_TCACHE_MAX || tcaches == NULL) {
		return NULL;
	}
	tcache_t *tc = tcaches[ind].tcache;
	if ((uintptr_t)tc <= (uintptr_t)TCACHES_ELM_NEED_REINIT) {
		return NULL;
	}
	return tc;
}

/*
 * mkf_je_tc_flush: every block of explicit cache `ind` back to its arena, bin by
 * bin, as destroying the cache would do first; the cache itself stays (and keeps
 * its address). The caller makes sure that its owner thread is not using it.
 */
int
mkf_je_tc_flush(unsigned ind) {
	tcache_t *tc = mkf_je_tc_get(ind);
	if (tc == NULL) {
		return ENOENT;
	}
	tsd_t *tsd = tsd_fetch();
	for (unsigned i = 0; i < nhbins; i++) {
		cache_bin_t *bin = &tc->bins[i];
		/* Most bins are empty; a flush of one still takes locks. */
		if (cache_bin_ncached_get_local(bin, &tcache_bin_info[i]) == 0
		    && !(config_uaf_detection && cache_bin_nstashed_get_local(
		    bin, &tcache_bin_info[i]) != 0)) {
			continue;
		}
		if (i < SC_NBINS) {
			tcache_bin_flush_small(tsd, tc, bin, i, 0);
		} else {
			tcache_bin_flush_large(tsd, tc, bin, i, 0);
		}
	}
	return 0;
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

/*
 * mkf_je_arena_recycle: empty a manual arena so that it can serve another heap,
 * as "arena.<i>.destroy" does up to the point where it would free the arena:
 * every allocation discarded (arena_reset), every cached extent purged and
 * handed back through the extent hooks, every retained extent destroyed through
 * them; then the per-arena state that a new arena starts with: the growth of
 * retained extents, and the delayed coalescing of dirty extents. What stays is
 * the arena itself and its metadata (its base), so that memkind-fixed's next
 * fixed kind skips creating an arena (arenas.create + ctl set-up) and destroying
 * one (the stats merge into "destroyed"), which were most of a kind's create +
 * destroy. The caller has destroyed or emptied every thread cache that holds
 * blocks of the arena, and lets no thread use it meanwhile; it then points the
 * arena at new extent hooks ("arena.<i>.extent_hooks").
 */
MKF_TC_ENTRY int mkf_je_arena_recycle(unsigned arena_ind);

int
mkf_je_arena_recycle(unsigned arena_ind) {
	tsd_t *tsd = tsd_fetch();
	tsdn_t *tsdn = tsd_tsdn(tsd);
	if (arena_ind < narenas_auto) {
		return EINVAL;
	}
	arena_t *arena = arena_get(tsdn, arena_ind, false);
	if (arena == NULL) {
		return ENOENT;
	}
	if (arena_nthreads_get(arena, false) != 0
	    || arena_nthreads_get(arena, true) != 0) {
		return EBUSY;
	}
	park_set(tsdn, arena_ind, false); /* arena_reset must meet no parked slab */
	arena_reset(tsd, arena);
	arena_decay(tsdn, arena, false, true);
	pac_t *pac = &arena->pa_shard.pac;
	ehooks_t *ehooks = pac_ehooks_get(pac);
	edata_t *edata;
	while ((edata = ecache_evict(tsdn, pac, ehooks, &pac->ecache_retained,
	    0)) != NULL) {
		extent_destroy_wrapper(tsdn, pac, ehooks, edata);
	}
	malloc_mutex_lock(tsdn, &pac->grow_mtx);
	exp_grow_init(&pac->exp_grow);
	malloc_mutex_unlock(tsdn, &pac->grow_mtx);
	ecache_t *dirty = &pac->ecache_dirty;
	malloc_mutex_lock(tsdn, &dirty->mtx);
	dirty->delay_coalesce = true;
	malloc_mutex_unlock(tsdn, &dirty->mtx);
	return 0;
}

/*
 * mkf_je_tc_postfork_child: put every explicit cache back on its arena's lists of
 * caches, in a fork child. With stats on, an arena lists the caches tied to it
 * (tcache_ql and cache_bin_array_descriptor_ql, which "epoch" walks for the
 * bytes cached). jemalloc's arena_postfork_child() makes both lists anew with
 * the forking thread's implicit cache alone: the explicit caches ("tcache.create")
 * survive fork() all the same, still tied to their arena (tcache_slow->arena)
 * and still linked to their neighbours in the parent's lists. Destroying one in
 * the child ("tcache.destroy", tcache_arena_dissociate) then unlinks it through
 * those stale links, which rewrites live entries of the new list: entries made
 * in the child drop out of it, or the list keeps pointing at a cache that is
 * freed later, and the next "epoch" reads freed memory. memkind-fixed calls this
 * from its fork child handler, which runs after jemalloc's; the child has one
 * thread. An entry of tcaches[] is a cache, or NULL / TCACHES_ELM_NEED_REINIT,
 * or, once destroyed, a link of the free list (a pointer into tcaches[]).
 */
MKF_TC_ENTRY void mkf_je_tc_postfork_child(void);

void
mkf_je_tc_postfork_child(void) {
	if (!config_stats || tcaches == NULL) {
		return;
	}
	tsdn_t *tsdn = tsdn_fetch();
	uintptr_t lo = (uintptr_t)tcaches;
	uintptr_t hi = (uintptr_t)(tcaches + MALLOCX_TCACHE_MAX + 1);
	for (unsigned i = 0; i <= MALLOCX_TCACHE_MAX; i++) {
		tcache_t *tc = tcaches[i].tcache;
		uintptr_t a = (uintptr_t)tc;
		if (a <= (uintptr_t)TCACHES_ELM_NEED_REINIT || (a >= lo && a < hi)) {
			continue;
		}
		tcache_slow_t *slow = tc->tcache_slow;
		arena_t *arena = slow->arena;
		if (arena == NULL) {
			continue;
		}
		slow->arena = NULL; /* tcache_arena_associate() sets it */
		tcache_arena_associate(tsdn, slow, tc, arena);
	}
}

/*
 * mkf_je_tc_discard: forget every block that explicit cache `ind` holds, without
 * handing them back: for a cache whose arena is about to be reset (a destroyed
 * kind's, mkf_je_arena_recycle), which frees their slabs and large extents
 * wholesale. Where flushing takes the bins' locks and updates every slab, this
 * only moves each bin's stack pointer. The blocks it forgot, and their size
 * classes' sum, go to *blocks and *bytes: the arena still counts them as
 * allocated. (With use-after-free detection a bin may also hold stashed blocks:
 * then it flushes, and counts nothing.)
 */
MKF_TC_ENTRY int mkf_je_tc_discard(unsigned ind, uint64_t *blocks,
    uint64_t *bytes);

int
mkf_je_tc_discard(unsigned ind, uint64_t *blocks, uint64_t *bytes) {
	*blocks = 0;
	*bytes = 0;
	if (config_uaf_detection) {
		return mkf_je_tc_flush(ind);
	}
	tcache_t *tc = mkf_je_tc_get(ind);
	if (tc == NULL) {
		return ENOENT;
	}
	for (unsigned i = 0; i < nhbins; i++) {
		cache_bin_t *bin = &tc->bins[i];
		cache_bin_sz_t n = cache_bin_ncached_get_local(bin,
		    &tcache_bin_info[i]);
		/* Requests counted for the old arena are not the next one's. */
		bin->tstats.nrequests = 0;
		if (n != 0) {
			*blocks += n;
			*bytes += (uint64_t)n * sz_index2size(i);
			bin->stack_head = cache_bin_empty_position_get(bin);
			bin->low_bits_low_water =
			    (uint16_t)(uintptr_t)bin->stack_head;
		}
	}
	return 0;
}

/*
 * mkf_je_arena_rebind: point manual arena `arena_ind` at other extent hooks, as
 * "arena.<i>.extent_hooks" does, without the mallctl name lookup.
 * mkf_je_arena_decay: its dirty and muzzy decay times ("arena.<i>.dirty_decay_ms"
 * and "muzzy_decay_ms"), likewise. Both run at every fixed kind's creation.
 */
MKF_TC_ENTRY int mkf_je_arena_rebind(unsigned arena_ind, void *hooks);
MKF_TC_ENTRY int mkf_je_arena_decay(unsigned arena_ind, long decay_ms);

int
mkf_je_arena_rebind(unsigned arena_ind, void *hooks) {
	tsd_t *tsd = tsd_fetch();
	if (arena_ind < narenas_auto || hooks == NULL) {
		return EINVAL;
	}
	arena_t *arena = arena_get(tsd_tsdn(tsd), arena_ind, false);
	if (arena == NULL) {
		return ENOENT;
	}
	arena_set_extent_hooks(tsd, arena, (extent_hooks_t *)hooks);
	return 0;
}

int
mkf_je_arena_decay(unsigned arena_ind, long decay_ms) {
	tsdn_t *tsdn = tsdn_fetch();
	arena_t *arena = arena_get(tsdn, arena_ind, false);
	if (arena == NULL) {
		return ENOENT;
	}
	if (arena_decay_ms_set(tsdn, arena, extent_state_dirty,
	    (ssize_t)decay_ms) || arena_decay_ms_set(tsdn, arena,
	    extent_state_muzzy, (ssize_t)decay_ms)) {
		return EINVAL;
	}
	/* Parked slabs (below) only where freed pages wait for a purge anyway. */
	return arena_ind < narenas_auto ? 0
	    : park_set(tsdn, arena_ind, decay_ms == -1);
}

/*
 * mkf_je_tc_setup: how much explicit cache `ind` takes from its arena when a bin
 * runs empty. memkind-fixed runs jemalloc with bins of a large capacity
 * (tcache_nslots_small_*, core/src/jemalloc_glue.c), so that a thread's frees stay
 * in its cache where a workload frees and allocates many blocks of a size in turn;
 * but jemalloc fills an empty bin with half its capacity, which in a region of
 * fixed size takes pages that other sizes need. So each bin of an explicit cache
 * fills about as many blocks as with jemalloc's default capacity (a slab's
 * regions, 20 to 200, halved): lg_fill_div, which jemalloc's GC only changes in
 * the implicit per-thread cache, is set here once.
 */
MKF_TC_ENTRY int mkf_je_tc_setup(unsigned ind);

int
mkf_je_tc_setup(unsigned ind) {
	tcache_t *tc = mkf_je_tc_get(ind);
	if (tc == NULL) {
		return ENOENT;
	}
	for (szind_t i = 0; i < SC_NBINS && i < nhbins; i++) {
		unsigned fill = bin_infos[i].nregs << 1; /* jemalloc's default */
		fill = fill < 20 ? 20 : fill > 200 ? 200 : fill;
		fill >>= 1;
		unsigned max = cache_bin_info_ncached_max(&tcache_bin_info[i]);
		uint8_t lg = 1;
		while (lg < 15 && (max >> lg) > fill && (max >> (lg + 1)) >= 1) {
			lg++;
		}
		tc->tcache_slow->lg_fill_div[i] = lg;
	}
	return 0;
}

/*
 * Parked slabs: a slab whose last block is freed stays with its arena's bin
 * instead of going back to the arena's extent cache, and the bin's next new slab
 * is that one. jemalloc hands an emptied slab to its page allocator at once
 * (pa_dalloc: the extent cache's search heaps, coalescing with its neighbours,
 * the radix tree's entries for every page) and carves the next one out again
 * (pa_alloc: a search of the cache, a split, the entries again): in a workload
 * that frees and allocates many blocks in turn that was half of all instructions
 * (docs/performance.md, the profile of workload (b)). A parked slab keeps its
 * pages, its size class and its radix-tree entries; taking it back costs a list
 * operation under the bin's lock and the slab's bitmap reset (arena_slab_alloc's
 * own set-up, after the call).
 *
 * tools/build_jemalloc.sh adds the two calls to jemalloc's arena.c: the first
 * statement of arena_slab_dalloc() is "if (mkf_je_slab_park(...)) return;" and
 * arena_slab_alloc() asks mkf_je_slab_take() before pa_alloc().
 *
 * Parking is on for an arena only while its dirty decay time is -1 (freed pages
 * stay in the arena until it is purged: memkind-fixed's fixed kinds, set by
 * mkf_je_arena_decay), never for jemalloc's automatic arenas. Parked slabs are
 * free memory of the arena, like its dirty extents, and go where those go:
 * mkf_je_slab_flush (memkind-fixed calls it before every purge, which is how a
 * request that would fail gets them back) hands them to pa_dalloc, as
 * arena_slab_dalloc would have; turning parking off (a timed decay, an arena
 * about to be destroyed or recycled) flushes too, so that arena_reset never
 * meets a parked slab. The lists are guarded by the lock of each bin's shard 0,
 * which jemalloc's fork handlers take; a slab taken back by another shard gets
 * that shard's number in arena_slab_alloc's set-up.
 */
struct mkf_park {
	atomic_b_t enabled;
	/*
	 * Per bin, a stack of parked slabs linked through the slab's own list
	 * link (ql_link_active, unused while a slab is in no bin list): pushing
	 * and popping touch only the slab itself, which arena_slab_alloc's set-up
	 * touches next anyway (a ring list's removal would also touch two
	 * neighbours). Counts per bin, for the pages parked.
	 */
	edata_t *top[SC_NBINS];
	size_t n[SC_NBINS];
};

/* Allocated once per arena index from jemalloc's own base (never freed: an
 * index is reused by the arena that next gets it). */
static atomic_p_t mkf_parks[MALLOCX_ARENA_LIMIT];

MKF_TC_ENTRY bool mkf_je_slab_park(tsdn_t *tsdn, arena_t *arena, edata_t *slab);
MKF_TC_ENTRY edata_t *mkf_je_slab_take(tsdn_t *tsdn, arena_t *arena,
    szind_t binind);
MKF_TC_ENTRY int mkf_je_slab_flush(unsigned arena_ind, bool stop);
MKF_TC_ENTRY size_t mkf_je_slab_parked(unsigned arena_ind);

static struct mkf_park *
park_of(unsigned ind) {
	return ind < MALLOCX_ARENA_LIMIT
	    ? atomic_load_p(&mkf_parks[ind], ATOMIC_ACQUIRE) : NULL;
}

static inline edata_t **
park_next(edata_t *slab) {
	return &slab->ql_link_active.qre_next;
}

bool
mkf_je_slab_park(tsdn_t *tsdn, arena_t *arena, edata_t *slab) {
	struct mkf_park *pk = park_of(arena_ind_get(arena));
	if (pk == NULL || !atomic_load_b(&pk->enabled, ATOMIC_RELAXED)) {
		return false;
	}
	szind_t binind = edata_szind_get(slab);
	bin_t *bin = arena_get_bin(arena, binind, 0);
	malloc_mutex_lock(tsdn, &bin->lock);
	/* Again under the lock: see park_set. */
	bool on = atomic_load_b(&pk->enabled, ATOMIC_RELAXED);
	if (on) {
		*park_next(slab) = pk->top[binind];
		pk->top[binind] = slab;
		pk->n[binind]++;
	}
	malloc_mutex_unlock(tsdn, &bin->lock);
	return on;
}

edata_t *
mkf_je_slab_take(tsdn_t *tsdn, arena_t *arena, szind_t binind) {
	struct mkf_park *pk = park_of(arena_ind_get(arena));
	if (pk == NULL) {
		return NULL;
	}
	bin_t *bin = arena_get_bin(arena, binind, 0);
	malloc_mutex_lock(tsdn, &bin->lock);
	/* Most recently parked first: its lines are the likeliest in cache. */
	edata_t *slab = pk->top[binind];
	if (slab != NULL) {
		edata_t *next = *park_next(slab);
		pk->top[binind] = next;
		pk->n[binind]--;
		ql_elm_new(slab, ql_link_active);
		/* The next take's miss, started now (each is a cache miss). */
		if (next != NULL) {
			__builtin_prefetch(next, 1);
		}
	}
	malloc_mutex_unlock(tsdn, &bin->lock);
	return slab;
}

static void
park_flush(tsdn_t *tsdn, arena_t *arena, struct mkf_park *pk) {
	for (szind_t i = 0; i < SC_NBINS; i++) {
		bin_t *bin = arena_get_bin(arena, i, 0);
		malloc_mutex_lock(tsdn, &bin->lock);
		edata_t *slab = pk->top[i];
		pk->top[i] = NULL;
		pk->n[i] = 0;
		malloc_mutex_unlock(tsdn, &bin->lock);
		while (slab != NULL) {
			edata_t *next = *park_next(slab);
			ql_elm_new(slab, ql_link_active);
			bool deferred = false;
			pa_dalloc(tsdn, &arena->pa_shard, slab, &deferred);
			if (deferred) {
				arena_handle_deferred_work(tsdn, arena);
			}
			slab = next;
		}
	}
}

static size_t
park_pages(struct mkf_park *pk) {
	size_t pages = 0;
	for (szind_t i = 0; i < SC_NBINS; i++) {
		pages += pk->n[i] * (bin_infos[i].slab_size >> LG_PAGE);
	}
	return pages;
}

/* Parking on or off for a manual arena; off flushes what is parked. */
static int
park_set(tsdn_t *tsdn, unsigned ind, bool on) {
	arena_t *arena = arena_get(tsdn, ind, false);
	if (arena == NULL || ind < narenas_auto || ind >= MALLOCX_ARENA_LIMIT) {
		return arena == NULL ? ENOENT : EINVAL;
	}
	struct mkf_park *pk = park_of(ind);
	if (pk == NULL) {
		if (!on) {
			return 0;
		}
		pk = base_alloc(tsdn, b0get(), sizeof(*pk), CACHELINE);
		if (pk == NULL) {
			return ENOMEM;
		}
		atomic_store_b(&pk->enabled, false, ATOMIC_RELAXED);
		for (szind_t i = 0; i < SC_NBINS; i++) {
			pk->top[i] = NULL;
			pk->n[i] = 0;
		}
		void *expected = NULL;
		if (!atomic_compare_exchange_strong_p(&mkf_parks[ind], &expected,
		    pk, ATOMIC_ACQ_REL, ATOMIC_ACQUIRE)) {
			pk = expected; /* another thread's: ours stays unused */
		}
	}
	/*
	 * Off: a thread that read "on" under a bin's lock has put its slab on that
	 * bin's list before the flush takes the lock; one that takes the lock after
	 * the flush released it reads "off".
	 */
	atomic_store_b(&pk->enabled, on, ATOMIC_SEQ_CST);
	if (!on) {
		park_flush(tsdn, arena, pk);
	}
	return 0;
}

/*
 * mkf_je_slab_flush: every parked slab of arena `arena_ind` back to its extent
 * cache (before a purge); with `stop`, parking also turns off (before the arena
 * is destroyed). mkf_je_slab_parked: the pages parked, in bytes, for
 * one arena or, with UINT_MAX, all (the "active" statistic leaves them out).
 */
int
mkf_je_slab_flush(unsigned arena_ind, bool stop) {
	tsdn_t *tsdn = tsdn_fetch();
	if (stop) {
		return park_set(tsdn, arena_ind, false);
	}
	struct mkf_park *pk = park_of(arena_ind);
	arena_t *arena = pk != NULL ? arena_get(tsdn, arena_ind, false) : NULL;
	if (arena != NULL) {
		park_flush(tsdn, arena, pk);
	}
	return 0;
}

size_t
mkf_je_slab_parked(unsigned arena_ind) {
	/* The counts are read without the bins' locks: a statistic. */
	size_t pages = 0;
	if (arena_ind != UINT_MAX) {
		struct mkf_park *pk = park_of(arena_ind);
		pages = pk != NULL ? park_pages(pk) : 0;
	} else {
		for (unsigned i = 0; i < MALLOCX_ARENA_LIMIT; i++) {
			struct mkf_park *pk = park_of(i);
			pages += pk != NULL ? park_pages(pk) : 0;
		}
	}
	return pages << LG_PAGE;
}

size_t
mkf_je_tc_bin_each(void *tc, size_t size,
    void (*fn)(void *ctx, void *ptr, size_t usable), void *ctx) {
	if (tc == NULL || size == 0 || size > SC_SMALL_MAXCLASS) {
		return 0;
	}
	szind_t binind = sz_size2index(size);
	if (binind >= nhbins) {
		return 0;
	}
	cache_bin_t *bin = &((tcache_t *)tc)->bins[binind];
	cache_bin_sz_t n = cache_bin_ncached_get_local(bin,
	    &tcache_bin_info[binind]);
	size_t usable = sz_index2size(binind);
	for (cache_bin_sz_t i = 0; fn != NULL && i < n; i++) {
		fn(ctx, bin->stack_head[i], usable);
	}
	return n;
}
