//! `allocator_api2::alloc::Allocator` for `FixedKind` (and so, through
//! allocator-api2's blanket impl, for `&FixedKind`): `allocator_api2::vec::Vec`,
//! `allocator_api2::boxed::Box` and every collection written against allocator-api2
//! (hashbrown, ...) work on stable Rust. With the `nightly` feature, allocator-api2
//! re-exports `core::alloc::Allocator`, so this is the standard library's trait.

use allocator_api2::alloc::{AllocError, Allocator};
use core::alloc::Layout;
use core::ptr::NonNull;

use crate::kind::FixedKind;

// SAFETY: blocks stay valid until deallocated or the kind is dropped, and a
// `FixedKind` cannot be dropped while a collection borrows it (or, by value, while
// the collection owns it). Clones do not exist. The methods below keep the
// contract's alignment, size and zero-size rules (see raw.rs).
unsafe impl Allocator for FixedKind<'_> {
    #[inline]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        FixedKind::allocate(self, layout).map_err(|_| AllocError)
    }

    #[inline]
    fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        FixedKind::allocate_zeroed(self, layout).map_err(|_| AllocError)
    }

    #[inline]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the trait's contract is the method's.
        unsafe { FixedKind::deallocate(self, ptr, layout) }
    }

    #[inline]
    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        debug_assert!(new.size() >= old.size());
        // SAFETY: the trait's contract is the method's.
        unsafe { self.reallocate(ptr, old, new) }.map_err(|_| AllocError)
    }

    #[inline]
    unsafe fn grow_zeroed(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the trait's contract is the method's.
        let block = unsafe { self.reallocate(ptr, old, new) }.map_err(|_| AllocError)?;
        // SAFETY: the block holds new.size() bytes; the tail is ours to write.
        unsafe {
            block
                .cast::<u8>()
                .as_ptr()
                .add(old.size())
                .write_bytes(0, new.size() - old.size())
        };
        Ok(block)
    }

    #[inline]
    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        debug_assert!(new.size() <= old.size());
        // SAFETY: the trait's contract is the method's.
        unsafe { self.reallocate(ptr, old, new) }.map_err(|_| AllocError)
    }
}
