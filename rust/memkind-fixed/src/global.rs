//! `FixedGlobalAlloc`: a `#[global_allocator]` whose heap is a region given at
//! start-up.

use core::alloc::{GlobalAlloc, Layout};
use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering};
use std::alloc::System;

use memkind_fixed_sys as sys;

use crate::error::{check, Error, Result};
use crate::kind::{map_region, MapOptions, Stats};
use crate::raw;

const UNINIT: u8 = 0;
const BUSY: u8 = 1;
const READY: u8 = 2;

/// A global allocator over a fixed region given once, at start-up.
///
/// Until [`init`](FixedGlobalAlloc::init) (or
/// [`init_mapped`](FixedGlobalAlloc::init_mapped)) it serves every request from the
/// system allocator, so that the runtime's start-up and anything before `main`
/// work. After it, every allocation comes from the region; when the region is
/// full, allocation fails (null), and Rust's usual out-of-memory handling follows
/// (`handle_alloc_error` aborts; `try_reserve` returns an error).
///
/// Frees and reallocations are routed by address: a block inside the region goes
/// to the kind, any other to the system allocator, so blocks from before the
/// initialisation stay valid. Growing such a block after the initialisation moves
/// it into the region.
///
/// ```no_run
/// use memkind_fixed::FixedGlobalAlloc;
///
/// #[global_allocator]
/// static HEAP: FixedGlobalAlloc = FixedGlobalAlloc::new();
///
/// fn main() {
///     HEAP.init_mapped(64 << 20, &Default::default()).expect("a 64 MiB heap");
///     let v: Vec<u64> = (0..1000).collect();
///     assert!(HEAP.contains(v.as_ptr()));
/// }
/// ```
///
/// The kind is never destroyed: it lives as long as the program.
pub struct FixedGlobalAlloc {
    state: AtomicU8,
    kind: AtomicPtr<sys::memkind>,
    start: AtomicUsize,
    len: AtomicUsize,
}

impl FixedGlobalAlloc {
    /// An allocator that is not initialised yet (it uses the system allocator).
    pub const fn new() -> FixedGlobalAlloc {
        FixedGlobalAlloc {
            state: AtomicU8::new(UNINIT),
            kind: AtomicPtr::new(ptr::null_mut()),
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
        }
    }

    /// Make the heap in `region` and serve all later allocations from it.
    ///
    /// Fails with `MEMKIND_ERROR_INVALID` when already initialised (or being
    /// initialised by another thread), or with the error of
    /// [`FixedKind::new`](crate::FixedKind::new); the allocator then keeps serving
    /// as before.
    pub fn init(&self, region: &'static mut [MaybeUninit<u8>]) -> Result<()> {
        let (start, len) = (region.as_mut_ptr().cast::<u8>(), region.len());
        self.init_with(|kind| {
            // SAFETY: the region is writable for the rest of the program.
            check(unsafe { sys::memkind_create_fixed(start.cast(), len, kind) })?;
            Ok((start, len))
        })
    }

    /// Map `size` bytes with `options` (as [`FixedKind::map_with`]) and make the
    /// heap there. The mapping is never released.
    ///
    /// [`FixedKind::map_with`]: crate::FixedKind::map_with
    pub fn init_mapped(&self, size: usize, options: &MapOptions) -> Result<()> {
        self.init_with(|kind| {
            let (addr, mapping) = map_region(size, options)?;
            let flags = options.region_flags();
            // SAFETY: a fresh mapping, kept for the rest of the program.
            let rc = unsafe { sys::memkind_create_fixed_flags(addr, size, flags, kind) };
            if let Err(e) = check(rc) {
                // SAFETY: mapped above, used by no kind.
                unsafe { sys::memkind_region_unmap(addr, mapping.size, mapping.flags) };
                return Err(e);
            }
            Ok((addr.cast(), size))
        })
    }

    fn init_with(
        &self,
        make: impl FnOnce(&mut sys::memkind_t) -> Result<(*mut u8, usize)>,
    ) -> Result<()> {
        if self
            .state
            .compare_exchange(UNINIT, BUSY, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(Error::INVALID);
        }
        let mut kind: sys::memkind_t = ptr::null_mut();
        match make(&mut kind) {
            Ok((start, len)) => {
                self.kind.store(kind, Ordering::Relaxed);
                self.start.store(start as usize, Ordering::Relaxed);
                self.len.store(len, Ordering::Relaxed);
                // Publishes the three stores above to every thread that sees READY.
                self.state.store(READY, Ordering::Release);
                Ok(())
            }
            Err(e) => {
                self.state.store(UNINIT, Ordering::Release);
                Err(e)
            }
        }
    }

    /// True once the region serves allocations.
    pub fn is_initialized(&self) -> bool {
        self.state.load(Ordering::Acquire) == READY
    }

    /// The kind, once initialised.
    #[inline]
    fn kind(&self) -> Option<sys::memkind_t> {
        if self.state.load(Ordering::Acquire) == READY {
            Some(self.kind.load(Ordering::Relaxed))
        } else {
            None
        }
    }

    /// The kind when `ptr` lies in its region.
    #[inline]
    fn owner(&self, ptr: *const u8) -> Option<sys::memkind_t> {
        let kind = self.kind()?;
        let offset = (ptr as usize).wrapping_sub(self.start.load(Ordering::Relaxed));
        (offset < self.len.load(Ordering::Relaxed)).then_some(kind)
    }

    /// True when `ptr` points into the region (false before the initialisation).
    pub fn contains<T: ?Sized>(&self, ptr: *const T) -> bool {
        self.owner(ptr.cast()).is_some()
    }

    /// The region statistics; `None` before the initialisation.
    pub fn stats(&self) -> Option<Result<Stats>> {
        self.kind().map(Stats::of)
    }
}

impl Default for FixedGlobalAlloc {
    fn default() -> FixedGlobalAlloc {
        FixedGlobalAlloc::new()
    }
}

// SAFETY: blocks come from the kind (see raw.rs for the Layout rules) or from
// System, and go back to where they came from: the region is fixed from READY on,
// and no System block lies inside it (a static array, or a mapping made after
// those blocks existed). A block that moved to another thread carries the
// happens-before edge of READY with it.
unsafe impl GlobalAlloc for FixedGlobalAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.kind() {
            // SAFETY: live kind; GlobalAlloc callers never pass size 0.
            Some(kind) => {
                unsafe { raw::alloc(kind, layout, false) }.map_or(ptr::null_mut(), NonNull::as_ptr)
            }
            // SAFETY: forwarded contract.
            None => unsafe { System.alloc(layout) },
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match self.kind() {
            // SAFETY: as in alloc.
            Some(kind) => {
                unsafe { raw::alloc(kind, layout, true) }.map_or(ptr::null_mut(), NonNull::as_ptr)
            }
            // SAFETY: forwarded contract.
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match self.owner(ptr) {
            // SAFETY: a live block of the kind.
            Some(kind) => unsafe { raw::dealloc(kind, ptr) },
            // SAFETY: not in the region, so a System block.
            None => unsafe { System.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: GlobalAlloc::realloc's contract makes this a valid layout.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let Some(block) = NonNull::new(ptr) else {
            return ptr::null_mut();
        };
        if let Some(kind) = self.owner(ptr) {
            // SAFETY: a live block of the kind, sizes not zero.
            return unsafe { raw::realloc(kind, block, layout, new) }
                .map_or(ptr::null_mut(), NonNull::as_ptr);
        }
        match self.kind() {
            // A System block from before the initialisation: move it in.
            Some(kind) => match unsafe { raw::alloc(kind, new, false) } {
                Ok(fresh) => {
                    // SAFETY: both blocks hold the copied length; the old one is a
                    // System block of `layout`.
                    unsafe {
                        ptr::copy_nonoverlapping(ptr, fresh.as_ptr(), layout.size().min(new_size));
                        System.dealloc(ptr, layout);
                    }
                    fresh.as_ptr()
                }
                Err(_) => ptr::null_mut(),
            },
            // SAFETY: forwarded contract.
            None => unsafe { System.realloc(ptr, layout, new_size) },
        }
    }
}
