//! The raw C API: a fixed kind on a buffer, one block, statistics.
//!
//!     cargo run -p memkind-fixed-sys --example raw_kind

use memkind_fixed_sys as sys;
use std::ptr;

fn main() {
    let mut region = vec![0u8; 4 << 20];
    let mut kind: sys::memkind_t = ptr::null_mut();
    // SAFETY: the buffer outlives the kind, destroyed below.
    unsafe {
        let rc = sys::memkind_create_fixed(region.as_mut_ptr().cast(), region.len(), &mut kind);
        assert_eq!(rc, sys::MEMKIND_SUCCESS);
        let p = sys::memkind_malloc(kind, 1000);
        assert!(!p.is_null());
        let mut stats = std::mem::zeroed::<sys::memkind_fixed_stats>();
        assert_eq!(sys::memkind_fixed_get_stats(kind, &mut stats), 0);
        println!(
            "API version {}, block {p:?}, capacity {}, allocated {}",
            sys::memkind_get_version(),
            stats.capacity,
            stats.allocated
        );
        sys::memkind_free(kind, p);
        assert_eq!(sys::memkind_destroy_kind(kind), sys::MEMKIND_SUCCESS);
    }
}
