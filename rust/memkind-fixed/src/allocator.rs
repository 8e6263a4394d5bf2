//! `allocator_api2::alloc::Allocator` for `FixedKind` and `SharedKind` (and so,
//! through allocator-api2's blanket impl, for `&FixedKind` and `&SharedKind`):
//! `allocator_api2::vec::Vec`, `allocator_api2::boxed::Box` and every collection
//! written against allocator-api2 (hashbrown, ...) work on stable Rust. With the
//! `nightly` feature, allocator-api2 re-exports `core::alloc::Allocator`, so this is
//! the standard library's trait.
//!
//! One implementation for both kinds: [`impl_allocator!`] writes it for a type
//! whose inherent `allocate`, `allocate_zeroed`, `deallocate` and `reallocate`
//! (all on `raw.rs`) keep the trait's contract.

/// `unsafe impl Allocator for $kind`, delegating to the type's inherent methods.
macro_rules! impl_allocator {
    ($kind:ty) => {
        // SAFETY: blocks stay valid until deallocated or the kind is dropped, and
        // the kind cannot be dropped while a collection borrows it (or, by value,
        // while the collection owns it). Clones do not exist. The inherent methods
        // keep the contract's alignment, size and zero-size rules (see raw.rs).
        unsafe impl allocator_api2::alloc::Allocator for $kind {
            #[inline]
            fn allocate(
                &self,
                layout: core::alloc::Layout,
            ) -> Result<core::ptr::NonNull<[u8]>, allocator_api2::alloc::AllocError> {
                <$kind>::allocate(self, layout).map_err(|_| allocator_api2::alloc::AllocError)
            }

            #[inline]
            fn allocate_zeroed(
                &self,
                layout: core::alloc::Layout,
            ) -> Result<core::ptr::NonNull<[u8]>, allocator_api2::alloc::AllocError> {
                <$kind>::allocate_zeroed(self, layout)
                    .map_err(|_| allocator_api2::alloc::AllocError)
            }

            #[inline]
            unsafe fn deallocate(&self, ptr: core::ptr::NonNull<u8>, layout: core::alloc::Layout) {
                // SAFETY: the trait's contract is the method's.
                unsafe { <$kind>::deallocate(self, ptr, layout) }
            }

            #[inline]
            unsafe fn grow(
                &self,
                ptr: core::ptr::NonNull<u8>,
                old: core::alloc::Layout,
                new: core::alloc::Layout,
            ) -> Result<core::ptr::NonNull<[u8]>, allocator_api2::alloc::AllocError> {
                debug_assert!(new.size() >= old.size());
                // SAFETY: the trait's contract is the method's.
                unsafe { self.reallocate(ptr, old, new) }
                    .map_err(|_| allocator_api2::alloc::AllocError)
            }

            #[inline]
            unsafe fn grow_zeroed(
                &self,
                ptr: core::ptr::NonNull<u8>,
                old: core::alloc::Layout,
                new: core::alloc::Layout,
            ) -> Result<core::ptr::NonNull<[u8]>, allocator_api2::alloc::AllocError> {
                // SAFETY: the trait's contract is the method's.
                let block = unsafe { self.reallocate(ptr, old, new) }
                    .map_err(|_| allocator_api2::alloc::AllocError)?;
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
                ptr: core::ptr::NonNull<u8>,
                old: core::alloc::Layout,
                new: core::alloc::Layout,
            ) -> Result<core::ptr::NonNull<[u8]>, allocator_api2::alloc::AllocError> {
                debug_assert!(new.size() <= old.size());
                // SAFETY: the trait's contract is the method's.
                unsafe { self.reallocate(ptr, old, new) }
                    .map_err(|_| allocator_api2::alloc::AllocError)
            }
        }
    };
}

impl_allocator!(crate::kind::FixedKind<'_>);
impl_allocator!(crate::shared::SharedKind);
