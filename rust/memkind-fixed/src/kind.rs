//! `FixedKind`: a heap inside one memory region, owned (mapped here) or borrowed.

use core::alloc::Layout;
use core::ffi::c_void;
use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};
use memkind_fixed_sys as sys;

use crate::error::{check, Error, Result};
use crate::raw;

/// A heap that lives entirely inside one memory region.
///
/// Every block that the kind hands out lies inside its region, and the library
/// never writes a byte outside it (its own bookkeeping lives elsewhere). The region
/// is either
/// - **borrowed** ([`FixedKind::new`]): any `&'a mut [MaybeUninit<u8>]`, a static
///   array or a buffer; the kind cannot outlive the borrow, and gives it back when
///   dropped; or
/// - **owned** ([`FixedKind::map`], [`FixedKind::map_with`]): anonymous memory mapped
///   by the library, placed on a NUMA node or backed by huge pages if asked, and
///   unmapped when the kind is dropped.
///
/// Allocate with [`allocate`](FixedKind::allocate) and friends, or use `&FixedKind`
/// as an [`allocator_api2::alloc::Allocator`] for collections:
///
/// ```
/// use allocator_api2::{boxed::Box, vec::Vec};
/// use memkind_fixed::FixedKind;
///
/// let kind = FixedKind::map(16 << 20)?;
/// let mut v = Vec::new_in(&kind);
/// v.extend_from_slice(&[1u32, 2, 3]);
/// let b = Box::new_in([0u8; 64], &kind);
/// assert!(kind.contains(v.as_ptr()) && kind.contains(b.as_ptr()));
/// # Ok::<(), memkind_fixed::Error>(())
/// ```
///
/// All of the C library's functions are thread-safe, so a `FixedKind` is `Send` and
/// `Sync`: any number of threads may allocate in it at once, and a block may be
/// freed by another thread than the one that allocated it.
///
/// Dropping the kind destroys it: blocks still allocated in it are released with
/// it. Collections borrow the kind, so the borrow checker makes them go first; raw
/// pointers from [`allocate`](FixedKind::allocate) dangle after the drop.
pub struct FixedKind<'a> {
    raw: NonNull<sys::memkind>,
    start: *mut u8,
    len: usize,
    /// The mapping to release after the kind, for an owned region.
    mapping: Option<Mapping>,
    _region: PhantomData<&'a mut [MaybeUninit<u8>]>,
}

/// A region mapped by memkind_region_map: what memkind_region_unmap needs back.
#[derive(Clone, Copy)]
pub(crate) struct Mapping {
    pub(crate) size: usize,
    pub(crate) flags: u32,
}

// SAFETY: memkind_fixed.h: "All functions are thread-safe. A kind may be used from
// any number of threads at once, and a block may be freed by a thread other than
// the one that allocated it." The region borrow (`&mut [MaybeUninit<u8>]`) is
// itself Send and Sync.
unsafe impl Send for FixedKind<'_> {}
// SAFETY: as above; `&FixedKind` only allocates, frees and reads statistics.
unsafe impl Sync for FixedKind<'_> {}

/// NUMA placement of a mapped region (`MEMKIND_REGION_POLICY_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NumaPolicy {
    /// The process's own policy (the default); the node is ignored.
    #[default]
    Default,
    /// Only on the given node.
    Bind(u32),
    /// On the given node while it has memory, elsewhere after that.
    Preferred(u32),
    /// Page by page over all nodes.
    Interleave,
}

/// How [`FixedKind::map_with`] maps its region.
///
/// ```
/// use memkind_fixed::{FixedKind, MapOptions, NumaPolicy};
/// let options = MapOptions::new().numa(NumaPolicy::Default).purge(true);
/// let kind = FixedKind::map_with(4 << 20, &options)?;
/// assert!(kind.capacity() >= 4 << 20);
/// # Ok::<(), memkind_fixed::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapOptions {
    numa: NumaPolicy,
    huge_pages: bool,
    purge: bool,
}

impl MapOptions {
    /// Default options: ordinary pages, the process's NUMA policy, freed pages kept.
    pub const fn new() -> MapOptions {
        MapOptions {
            numa: NumaPolicy::Default,
            huge_pages: false,
            purge: false,
        }
    }

    /// Place the region's pages by `policy`. A policy other than
    /// [`NumaPolicy::Default`] fails with `MEMKIND_ERROR_UNAVAILABLE` on a machine
    /// without NUMA support.
    pub const fn numa(mut self, policy: NumaPolicy) -> MapOptions {
        self.numa = policy;
        self
    }

    /// Back the region with 2 MiB huge pages (its size is rounded up to 2 MiB).
    /// Fails with `MEMKIND_ERROR_HUGETLB` when the system has none to give.
    pub const fn huge_pages(mut self, on: bool) -> MapOptions {
        self.huge_pages = on;
        self
    }

    /// The region flags (`MEMKIND_REGION_*`) of a kind on a mapping made with these
    /// options: fresh mappings are zero-filled.
    pub(crate) fn region_flags(&self) -> u32 {
        sys::MEMKIND_REGION_ZEROED
            | if self.purge {
                sys::MEMKIND_REGION_PURGE
            } else {
                0
            }
    }

    /// Give freed pages back to the operating system (`MEMKIND_REGION_PURGE`): a
    /// lower resident size, slower reuse.
    pub const fn purge(mut self, on: bool) -> MapOptions {
        self.purge = on;
        self
    }
}

/// Region statistics of a kind, read at the time of the call
/// (`memkind_fixed_get_stats`). All sizes are in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Usable bytes of the region (whole pages).
    pub capacity: usize,
    /// Bytes of the region that the heap holds: live blocks, partly used pages and
    /// the heap's cache of freed pages.
    pub used: usize,
    /// `capacity - used`: bytes that no part of the heap holds.
    pub free: usize,
    /// The largest contiguous free extent.
    pub largest_free: usize,
    /// The highest `used` seen.
    pub peak_used: usize,
    /// Bytes in blocks handed out and not freed (thread caches count as allocated).
    pub allocated: usize,
    /// Requests that failed for lack of memory.
    pub failed_allocs: u64,
    /// Number of regions.
    pub regions: u32,
    /// Bytes of the region in resident pages (as mincore(2) reports them).
    pub resident: usize,
}

impl Stats {
    /// The region statistics of the live kind `kind`.
    pub(crate) fn of(kind: sys::memkind_t) -> Result<Stats> {
        let mut s = MaybeUninit::<sys::memkind_fixed_stats>::uninit();
        // SAFETY: `s` is writable; the library fills it on success.
        check(unsafe { sys::memkind_fixed_get_stats(kind, s.as_mut_ptr()) })?;
        // SAFETY: filled on success.
        let s = unsafe { s.assume_init() };
        Ok(Stats {
            capacity: s.capacity,
            used: s.used,
            free: s.free,
            largest_free: s.largest_free,
            peak_used: s.peak_used,
            allocated: s.allocated,
            failed_allocs: s.failed_allocs,
            regions: s.regions,
            resident: s.resident,
        })
    }
}

/// What destroyed kinds still had allocated: counts since the process started,
/// over all kinds (`memkind_get_destroy_stats`). Dropping a [`FixedKind`] releases
/// the blocks it still holds, which safe code cannot reach any more (they borrow
/// the kind), but whose destructors never ran: `mem::forget` of a `Vec` in a kind,
/// say. Compare two readings to find such leaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DestroyStats {
    /// Kinds destroyed while they held allocated blocks.
    pub kinds: u64,
    /// Blocks those kinds held when they were destroyed, in all.
    pub blocks: u64,
    /// The size classes of those blocks, summed, in bytes.
    pub bytes: u64,
}

/// Read the process-wide [`DestroyStats`].
pub fn destroy_stats() -> DestroyStats {
    let mut s = MaybeUninit::<sys::memkind_destroy_stats>::uninit();
    // SAFETY: `s` is writable; the only error is a NULL argument.
    let rc = unsafe { sys::memkind_get_destroy_stats(s.as_mut_ptr()) };
    debug_assert_eq!(rc, sys::MEMKIND_SUCCESS, "memkind_get_destroy_stats");
    if rc != sys::MEMKIND_SUCCESS {
        return DestroyStats::default();
    }
    // SAFETY: filled on success.
    let s = unsafe { s.assume_init() };
    DestroyStats {
        kinds: s.kinds,
        blocks: s.blocks,
        bytes: s.bytes,
    }
}

impl<'a> FixedKind<'a> {
    /// Make a kind whose heap lives in `region`, borrowed for the kind's lifetime.
    ///
    /// A start that is not page-aligned is rounded up, and the end rounded down, to
    /// whole pages; bytes outside those pages are never touched.
    ///
    /// Errors: `MEMKIND_ERROR_REGION_TOO_SMALL` (less than one whole page),
    /// `MEMKIND_ERROR_REGION_OVERLAP` (the memory already backs a live kind; only
    /// possible through unsafe code), `MEMKIND_ERROR_TOOMANY`, `MEMKIND_ERROR_INVALID`.
    ///
    /// ```
    /// use core::mem::MaybeUninit;
    /// use memkind_fixed::FixedKind;
    ///
    /// let mut buffer = vec![MaybeUninit::<u8>::uninit(); 1 << 20];
    /// let kind = FixedKind::new(&mut buffer)?;
    /// let block = kind.allocate(core::alloc::Layout::new::<[u64; 8]>())?;
    /// assert!(kind.contains(block.as_ptr() as *const u8));
    /// # Ok::<(), memkind_fixed::Error>(())
    /// ```
    pub fn new(region: &'a mut [MaybeUninit<u8>]) -> Result<FixedKind<'a>> {
        let (start, len) = (region.as_mut_ptr().cast::<u8>(), region.len());
        let mut raw: sys::memkind_t = ptr::null_mut();
        // SAFETY: the region is writable and stays so for 'a, which the kind
        // cannot outlive.
        check(unsafe { sys::memkind_create_fixed(start.cast(), len, &mut raw) })?;
        Ok(FixedKind {
            raw: NonNull::new(raw).ok_or(Error::INVALID)?,
            start,
            len,
            mapping: None,
            _region: PhantomData,
        })
    }
}

impl FixedKind<'static> {
    /// Map `size` bytes (rounded up to whole pages) of fresh anonymous memory and
    /// make a kind on them. The kind owns the mapping and unmaps it when dropped.
    pub fn map(size: usize) -> Result<FixedKind<'static>> {
        FixedKind::map_with(size, &MapOptions::new())
    }

    /// [`FixedKind::map`] with NUMA placement, huge pages or purging
    /// (see [`MapOptions`]).
    pub fn map_with(size: usize, options: &MapOptions) -> Result<FixedKind<'static>> {
        let (addr, mapping) = map_region(size, options)?;
        let region_flags = options.region_flags();
        let mut raw: sys::memkind_t = ptr::null_mut();
        // SAFETY: the mapping is ours, writable, and lives until Drop unmaps it
        // after destroying the kind.
        let rc = unsafe { sys::memkind_create_fixed_flags(addr, size, region_flags, &mut raw) };
        if let Err(e) = check(rc) {
            // SAFETY: mapped above with these arguments and not used by any kind.
            unsafe { sys::memkind_region_unmap(addr, mapping.size, mapping.flags) };
            return Err(e);
        }
        Ok(FixedKind {
            raw: NonNull::new(raw).ok_or(Error::INVALID)?,
            start: addr.cast(),
            len: size,
            mapping: Some(mapping),
            _region: PhantomData,
        })
    }
}

/// memkind_region_map with `options`: the address and what unmapping needs.
pub(crate) fn map_region(size: usize, options: &MapOptions) -> Result<(*mut c_void, Mapping)> {
    let (policy, node) = match options.numa {
        NumaPolicy::Default => (sys::MEMKIND_REGION_POLICY_DEFAULT, 0),
        NumaPolicy::Bind(n) => (sys::MEMKIND_REGION_POLICY_BIND, n),
        NumaPolicy::Preferred(n) => (sys::MEMKIND_REGION_POLICY_PREFERRED, n),
        NumaPolicy::Interleave => (sys::MEMKIND_REGION_POLICY_INTERLEAVE, 0),
    };
    let node = i32::try_from(node).map_err(|_| Error::INVALID)?;
    let flags = if options.huge_pages {
        sys::MEMKIND_REGION_MAP_HUGETLB
    } else {
        0
    };
    let mut addr: *mut c_void = ptr::null_mut();
    // SAFETY: `addr` is writable.
    check(unsafe { sys::memkind_region_map(&mut addr, size, policy as i32, node, flags) })?;
    Ok((addr, Mapping { size, flags }))
}

impl FixedKind<'_> {
    /// Allocate a block for `layout`: at least `layout.size()` bytes aligned to
    /// `layout.align()`, inside the region. The bytes are uninitialised.
    ///
    /// A zero-size layout gets a dangling, well-aligned pointer that the library
    /// never sees; release it (or not) with [`deallocate`](FixedKind::deallocate).
    ///
    /// Fails with [`Error::OUT_OF_MEMORY`] when the region has no room; the kind
    /// keeps working, and memory freed later serves requests again.
    pub fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>> {
        // SAFETY: the kind is live while `self` is.
        unsafe { raw::allocate(self.raw.as_ptr(), layout, false) }
    }

    /// [`allocate`](FixedKind::allocate), with the block's bytes set to zero.
    pub fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>> {
        // SAFETY: the kind is live while `self` is.
        unsafe { raw::allocate(self.raw.as_ptr(), layout, true) }
    }

    /// Release a block.
    ///
    /// # Safety
    /// `ptr` was returned by this kind for `layout` (by `allocate*` or
    /// `reallocate`) and not released since.
    pub unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: per the caller, a live block of this kind (or a zero-size one).
        unsafe { raw::deallocate(self.raw.as_ptr(), ptr, layout) }
    }

    /// Resize the block `ptr` of `old` to `new`, keeping its contents up to the
    /// smaller size. The result is aligned to `new.align()`: blocks aligned beyond
    /// what malloc gives are moved by allocate-copy-free when they cannot stay in
    /// place. On failure the old block is left as it was.
    ///
    /// # Safety
    /// `ptr` was returned by this kind for `old` and not released since.
    pub unsafe fn reallocate(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>> {
        // SAFETY: per the caller.
        unsafe { raw::reallocate(self.raw.as_ptr(), ptr, old, new) }
    }

    /// True when `ptr` points into the kind's region. Every block of the kind
    /// does (a zero-size block's dangling pointer does not).
    pub fn contains<T: ?Sized>(&self, ptr: *const T) -> bool {
        (ptr.cast::<u8>() as usize).wrapping_sub(self.start as usize) < self.len
    }

    /// The region: its first byte and its length in bytes, as given or mapped
    /// (the heap uses the whole pages inside it).
    pub fn region(&self) -> (*const u8, usize) {
        (self.start, self.len)
    }

    /// The usable size of the region in bytes (whole pages), `memkind_get_capacity`.
    pub fn capacity(&self) -> usize {
        // SAFETY: the kind is live.
        let c = unsafe { sys::memkind_get_capacity(self.raw.as_ptr()) };
        usize::try_from(c).unwrap_or(0)
    }

    /// The region statistics, read now (`memkind_fixed_get_stats`).
    pub fn stats(&self) -> Result<Stats> {
        Stats::of(self.raw.as_ptr())
    }

    /// Return freed pages that the heap still caches to the region
    /// (`memkind_fixed_purge`). Allocation does this by itself before it fails.
    pub fn purge(&self) -> Result<()> {
        // SAFETY: the kind is live.
        check(unsafe { sys::memkind_fixed_purge(self.raw.as_ptr()) })
    }

    /// The C handle, for functions of `memkind-fixed-sys`. It stays valid while
    /// `self` lives; do not destroy it.
    pub fn as_raw(&self) -> sys::memkind_t {
        self.raw.as_ptr()
    }
}

impl Drop for FixedKind<'_> {
    fn drop(&mut self) {
        // SAFETY: the kind is live and nothing borrows `self` any more.
        let rc = unsafe { sys::memkind_destroy_kind(self.raw.as_ptr()) };
        debug_assert_eq!(rc, sys::MEMKIND_SUCCESS, "memkind_destroy_kind");
        if let Some(m) = self.mapping {
            // SAFETY: mapped by map_region with these arguments; the kind that used
            // it is gone.
            unsafe { sys::memkind_region_unmap(self.start.cast(), m.size, m.flags) };
        }
    }
}

impl fmt::Debug for FixedKind<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedKind")
            .field("region", &self.start)
            .field("len", &self.len)
            .field("owned", &self.mapping.is_some())
            .finish()
    }
}
