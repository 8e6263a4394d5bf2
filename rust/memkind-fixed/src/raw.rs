//! `Layout`-based allocation on a kind: the one place that maps Rust's alignment
//! and zero-size rules onto memkind's functions. `FixedKind`, `SharedKind` and
//! `FixedGlobalAlloc` all allocate through here.
//!
//! - memkind_malloc returns blocks aligned as malloc's are: to the size class, up to
//!   jemalloc's quantum ([`MALLOC_ALIGN`]). A request whose alignment is at most
//!   that and at most its size goes there; everything else goes to
//!   memkind_posix_memalign, whose alignment must be at least `size_of::<*const ()>()`
//!   (smaller ones are raised to it, which still satisfies the request).
//! - Size 0 never reaches C: callers hand out a dangling aligned pointer instead.

use core::alloc::Layout;
use core::ffi::c_void;
use core::ptr::{self, NonNull};
use memkind_fixed_sys as sys;

use crate::error::{Error, Result};

/// The alignment that memkind_malloc guarantees for a block at least this large
/// (jemalloc's quantum: 16 bytes on 64-bit targets, 8 on 32-bit ones).
pub(crate) const MALLOC_ALIGN: usize = 2 * core::mem::size_of::<usize>();

/// The smallest alignment that memkind_posix_memalign accepts.
const MIN_MEMALIGN: usize = core::mem::size_of::<*const c_void>();

/// True when memkind_malloc's own alignment satisfies `layout`.
#[inline]
fn malloc_aligns(layout: Layout) -> bool {
    layout.align() <= MALLOC_ALIGN && layout.align() <= layout.size()
}

/// Allocate `layout` (size > 0) in `kind`, zeroed if asked.
///
/// # Safety
/// `kind` is a live kind and `layout.size() > 0`.
#[inline]
pub(crate) unsafe fn alloc(
    kind: sys::memkind_t,
    layout: Layout,
    zeroed: bool,
) -> Result<NonNull<u8>> {
    debug_assert!(layout.size() != 0);
    if malloc_aligns(layout) {
        // SAFETY: the caller passes a live kind.
        let p: *mut u8 = unsafe {
            if zeroed {
                sys::memkind_calloc(kind, 1, layout.size()).cast()
            } else {
                sys::memkind_malloc(kind, layout.size()).cast()
            }
        };
        return NonNull::new(p).ok_or_else(Error::last_alloc_error);
    }
    let mut out: *mut c_void = ptr::null_mut();
    let align = layout.align().max(MIN_MEMALIGN);
    // SAFETY: live kind, `out` is writable; alignment is a power of two (Layout)
    // and at least sizeof(void *).
    let rc = unsafe { sys::memkind_posix_memalign(kind, &mut out, align, layout.size()) };
    // posix_memalign returns the errno value instead of setting errno.
    let out = match NonNull::new(out.cast::<u8>()) {
        Some(p) if rc == 0 => p,
        _ => {
            return Err(Error::from_code(if rc != 0 {
                rc
            } else {
                Error::OUT_OF_MEMORY.code()
            }))
        }
    };
    if zeroed {
        // SAFETY: `out` is a fresh block of layout.size() bytes.
        unsafe { ptr::write_bytes(out.as_ptr(), 0, layout.size()) };
    }
    Ok(out)
}

/// Release a block that [`alloc`] or [`realloc`] returned for `kind`.
///
/// # Safety
/// `ptr` is a live block of `kind`.
#[inline]
pub(crate) unsafe fn dealloc(kind: sys::memkind_t, ptr: *mut u8) {
    // SAFETY: per the caller.
    unsafe { sys::memkind_free(kind, ptr.cast()) }
}

/// Resize the block `ptr` of `old` (size > 0) to `new` (size > 0), keeping its
/// contents up to the smaller size and `new.align()`. On failure `ptr` is left
/// valid.
///
/// # Safety
/// `ptr` is a live block of `kind` allocated with `old`.
pub(crate) unsafe fn realloc(
    kind: sys::memkind_t,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<NonNull<u8>> {
    debug_assert!(old.size() != 0 && new.size() != 0);
    let aligned_here = (ptr.as_ptr() as usize) & (new.align() - 1) == 0;
    if malloc_aligns(new) && aligned_here {
        // memkind_realloc keeps the address (aligned, checked above) or moves the
        // block to a fresh malloc-aligned one, which satisfies `new`.
        // SAFETY: per the caller.
        let p = unsafe { sys::memkind_realloc(kind, ptr.as_ptr().cast(), new.size()) };
        return NonNull::new(p.cast()).ok_or_else(Error::last_alloc_error);
    }
    // Over-aligned: realloc could move the block to a place that is not aligned
    // enough, with the old block already gone. Stay in place when the block is
    // large enough and aligned; else allocate, copy, free.
    // SAFETY: per the caller.
    if aligned_here
        && unsafe { sys::memkind_malloc_usable_size(kind, ptr.as_ptr().cast()) } >= new.size()
    {
        return Ok(ptr);
    }
    // SAFETY: live kind, new.size() > 0.
    let fresh = unsafe { alloc(kind, new, false) }?;
    // SAFETY: both blocks hold at least the copied length and do not overlap.
    unsafe {
        ptr::copy_nonoverlapping(ptr.as_ptr(), fresh.as_ptr(), old.size().min(new.size()));
        dealloc(kind, ptr.as_ptr());
    }
    Ok(fresh)
}

/// A block for `layout` in `kind`, as the kinds' `allocate` methods give it: a
/// dangling pointer for size 0 (the library never sees it), else a block of
/// [`alloc`].
///
/// # Safety
/// `kind` is a live kind.
#[inline]
pub(crate) unsafe fn allocate(
    kind: sys::memkind_t,
    layout: Layout,
    zeroed: bool,
) -> Result<NonNull<[u8]>> {
    if layout.size() == 0 {
        return Ok(NonNull::slice_from_raw_parts(dangling(layout), 0));
    }
    // SAFETY: per the caller; the size is not zero.
    let p = unsafe { alloc(kind, layout, zeroed) }?;
    Ok(NonNull::slice_from_raw_parts(p, layout.size()))
}

/// Release a block of [`allocate`] or [`reallocate`] (nothing for size 0).
///
/// # Safety
/// `kind` is live; `ptr` was returned for `layout` by one of those on a kind of
/// the same heap and not released since.
#[inline]
pub(crate) unsafe fn deallocate(kind: sys::memkind_t, ptr: NonNull<u8>, layout: Layout) {
    if layout.size() != 0 {
        // SAFETY: per the caller, a live block.
        unsafe { dealloc(kind, ptr.as_ptr()) }
    }
}

/// [`realloc`] with the zero-size cases of the kinds' `reallocate` methods.
///
/// # Safety
/// As for [`deallocate`], with `old` as the block's layout.
pub(crate) unsafe fn reallocate(
    kind: sys::memkind_t,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<NonNull<[u8]>> {
    if old.size() == 0 {
        // SAFETY: per the caller.
        return unsafe { allocate(kind, new, false) };
    }
    if new.size() == 0 {
        // SAFETY: per the caller.
        unsafe { deallocate(kind, ptr, old) };
        return Ok(NonNull::slice_from_raw_parts(dangling(new), 0));
    }
    // SAFETY: per the caller; both sizes are not zero.
    let p = unsafe { realloc(kind, ptr, old, new) }?;
    Ok(NonNull::slice_from_raw_parts(p, new.size()))
}

/// A non-null, well-aligned pointer that is never dereferenced: the block of a
/// zero-size allocation, as Rust's allocators give it.
#[inline]
pub(crate) fn dangling(layout: Layout) -> NonNull<u8> {
    // SAFETY: an alignment is never zero.
    unsafe { NonNull::new_unchecked(ptr::without_provenance_mut(layout.align())) }
}
