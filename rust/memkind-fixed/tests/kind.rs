//! FixedKind through its own methods and through allocator-api2's collections.
#![cfg_attr(feature = "nightly", feature(allocator_api))]

use std::alloc::Layout;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::sync::Arc;
use std::thread;

use allocator_api2::alloc::Allocator;
use allocator_api2::boxed::Box;
use allocator_api2::vec::Vec;
use memkind_fixed::{sys, Error, FixedKind, MapOptions, NumaPolicy};

const MIB: usize = 1 << 20;

fn in_region<T: ?Sized>(kind: &FixedKind, p: *const T, len: usize) -> bool {
    let (start, size) = kind.region();
    let p = p.cast::<u8>() as usize;
    p >= start as usize && p + len <= start as usize + size
}

#[test]
fn acceptance_vec_of_a_million_u64_stays_in_the_region() {
    let kind = FixedKind::map(64 * MIB).unwrap();
    let mut v: Vec<u64, &FixedKind> = Vec::new_in(&kind);
    for i in 0..1_000_000u64 {
        v.push(i);
    }
    assert_eq!(v.len(), 1_000_000);
    assert!(in_region(&kind, v.as_ptr(), v.capacity() * 8));
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
    let stats = kind.stats().unwrap();
    assert!(stats.allocated >= 8_000_000, "{stats:?}");
    assert_eq!(stats.regions, 1);
}

#[test]
fn vec_and_box_live_in_a_borrowed_buffer() {
    let mut buffer = vec![MaybeUninit::<u8>::uninit(); 4 * MIB];
    let kind = FixedKind::new(&mut buffer).unwrap();
    let b = Box::new_in([7u64; 32], &kind);
    let mut v = Vec::with_capacity_in(10, &kind);
    v.extend((0..1000).map(|i| i as u16));
    assert!(in_region(&kind, &*b, 256));
    assert!(in_region(&kind, v.as_ptr(), v.len() * 2));
    assert_eq!(b[31], 7);
    v.shrink_to_fit();
    assert!(in_region(&kind, v.as_ptr(), v.len() * 2));
    assert_eq!(v[999], 999);
    let zeros: Box<[MaybeUninit<u32>], &FixedKind> = Box::new_zeroed_slice_in(1000, &kind);
    // SAFETY: zero is a valid u32.
    let zeros = unsafe { zeros.assume_init() };
    assert!(zeros.iter().all(|&x| x == 0) && kind.contains(zeros.as_ptr()));
}

#[test]
fn a_kind_cannot_outlive_its_buffer_but_the_buffer_is_reusable() {
    let mut buffer = vec![MaybeUninit::<u8>::uninit(); MIB];
    for round in 0..3 {
        let kind = FixedKind::new(&mut buffer).unwrap();
        let mut v: Vec<u32, _> = Vec::with_capacity_in(1000, &kind);
        v.resize(1000, round);
        assert!(kind.contains(v.as_ptr()));
    }
}

#[test]
fn every_alignment_from_1_to_1_mib() {
    let kind = FixedKind::map(64 * MIB).unwrap();
    let sizes = [1usize, 3, 8, 24, 100, 4096, 70_000];
    let mut align = 1;
    while align <= MIB {
        for &size in &sizes {
            let layout = Layout::from_size_align(size, align).unwrap();
            let block = kind.allocate(layout).unwrap();
            let p = block.cast::<u8>();
            assert_eq!(p.as_ptr() as usize % align, 0, "size {size} align {align}");
            assert!(block.len() >= size && in_region(&kind, p.as_ptr(), size));
            unsafe { p.as_ptr().write_bytes(0xa5, size) };
            // Grow and shrink keep the alignment and the contents.
            let bigger = Layout::from_size_align(size * 3 + 1, align).unwrap();
            let grown = unsafe { kind.reallocate(p, layout, bigger) }
                .unwrap()
                .cast::<u8>();
            assert_eq!(
                grown.as_ptr() as usize % align,
                0,
                "grow size {size} align {align}"
            );
            let bytes = unsafe { std::slice::from_raw_parts(grown.as_ptr(), size) };
            assert!(bytes.iter().all(|&b| b == 0xa5));
            let smaller = Layout::from_size_align(size.div_ceil(2), align).unwrap();
            let shrunk = unsafe { kind.reallocate(grown, bigger, smaller) }
                .unwrap()
                .cast::<u8>();
            assert_eq!(
                shrunk.as_ptr() as usize % align,
                0,
                "shrink size {size} align {align}"
            );
            assert_eq!(unsafe { *shrunk.as_ptr() }, 0xa5);
            unsafe { kind.deallocate(shrunk, smaller) };
        }
        align *= 2;
    }
    assert_eq!(kind.stats().unwrap().failed_allocs, 0);
}

#[test]
fn zero_size_blocks_are_dangling_and_aligned() {
    let kind = FixedKind::map(MIB).unwrap();
    for align in [1, 8, 64, 4096] {
        let layout = Layout::from_size_align(0, align).unwrap();
        let block = kind.allocate(layout).unwrap();
        assert_eq!(block.len(), 0);
        assert_eq!(block.cast::<u8>().as_ptr() as usize % align, 0);
        assert!(!kind.contains(block.as_ptr()));
        // Growing from zero allocates; shrinking to zero frees.
        let one = Layout::from_size_align(10, align).unwrap();
        let grown = unsafe { kind.reallocate(block.cast(), layout, one) }.unwrap();
        assert!(kind.contains(grown.as_ptr()));
        let back = unsafe { kind.reallocate(grown.cast(), one, layout) }.unwrap();
        assert_eq!(back.len(), 0);
        unsafe { kind.deallocate(back.cast(), layout) };
    }
    let v: Vec<(), &FixedKind> = Vec::with_capacity_in(100, &kind);
    assert_eq!(v.capacity(), usize::MAX);
}

#[test]
fn exhaustion_is_an_error_and_the_kind_keeps_working() {
    let kind = FixedKind::map(8 * MIB).unwrap();
    let layout = Layout::from_size_align(MIB, 8).unwrap();
    let mut blocks = std::vec::Vec::new();
    let err = loop {
        match kind.allocate(layout) {
            Ok(b) => blocks.push(b),
            Err(e) => break e,
        }
        assert!(blocks.len() <= 8, "more 1 MiB blocks than the region holds");
    };
    assert!(err.is_out_of_memory(), "{err:?}");
    assert!(!err.message().is_empty());
    assert!(blocks.len() >= 4, "only {} MiB of 8", blocks.len());
    assert!(kind.stats().unwrap().failed_allocs >= 1);

    // Collections see AllocError / try_reserve errors, not a crash.
    let mut v: Vec<u8, &FixedKind> = Vec::new_in(&kind);
    assert!(v.try_reserve(16 * MIB).is_err());
    assert!(Allocator::allocate(&&kind, layout).is_err());

    // Freed memory serves again, at any size.
    let n = blocks.len();
    for b in blocks.drain(..) {
        unsafe { kind.deallocate(b.cast(), layout) };
    }
    for _ in 0..n {
        blocks.push(kind.allocate(layout).expect("freed memory serves again"));
    }
    for b in blocks {
        unsafe { kind.deallocate(b.cast(), layout) };
    }
    v.try_reserve(4 * MIB).unwrap();
    assert!(kind.contains(v.as_ptr()));
}

#[test]
fn threads_share_one_kind() {
    let kind = Arc::new(FixedKind::map(64 * MIB).unwrap());
    let handles: std::vec::Vec<_> = (0..4)
        .map(|t| {
            let kind = Arc::clone(&kind);
            thread::spawn(move || {
                let mut kept = std::vec::Vec::new();
                for i in 0..5000usize {
                    let mut v: Vec<usize, &FixedKind> = Vec::with_capacity_in(1 + i % 64, &kind);
                    v.extend(std::iter::repeat_n(t, 1 + i % 64));
                    assert!(kind.contains(v.as_ptr()));
                    if i % 100 == 0 {
                        kept.push(kind.allocate(Layout::new::<[u64; 16]>()).unwrap());
                    }
                }
                // Hand the kept blocks to the main thread, which frees them.
                kept.into_iter()
                    .map(|p| p.cast::<u8>().as_ptr() as usize)
                    .collect::<std::vec::Vec<_>>()
            })
        })
        .collect();
    for h in handles {
        for addr in h.join().unwrap() {
            let p = NonNull::new(addr as *mut u8).unwrap();
            assert!(kind.contains(p.as_ptr()));
            unsafe { kind.deallocate(p, Layout::new::<[u64; 16]>()) };
        }
    }
    // Scoped threads may borrow a kind directly.
    let shared = FixedKind::map(8 * MIB).unwrap();
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let b = Box::new_in(42u32, &shared);
                assert!(shared.contains(&*b));
            });
        }
    });
}

#[test]
fn stats_follow_allocations() {
    let kind = FixedKind::map_with(16 * MIB, &MapOptions::new().purge(true)).unwrap();
    let before = kind.stats().unwrap();
    assert!(before.capacity >= 16 * MIB - 4096 && before.capacity <= 16 * MIB);
    assert_eq!(kind.capacity(), before.capacity);
    assert_eq!(before.free + before.used, before.capacity);
    let mut b: Vec<u8, &FixedKind> = Vec::with_capacity_in(2 * MIB, &kind);
    b.resize(2 * MIB, 1);
    let during = kind.stats().unwrap();
    assert!(
        during.allocated >= 2 * MIB && during.used >= 2 * MIB,
        "{during:?}"
    );
    drop(b);
    kind.purge().unwrap();
    let after = kind.stats().unwrap();
    assert!(
        after.peak_used >= 2 * MIB && after.allocated < 2 * MIB,
        "{after:?}"
    );
}

#[test]
fn errors_carry_the_library_code_and_message() {
    let mut tiny = [MaybeUninit::<u8>::uninit(); 100];
    let err = FixedKind::new(&mut tiny).unwrap_err();
    assert_eq!(err.code(), sys::MEMKIND_ERROR_REGION_TOO_SMALL);
    let boxed: std::boxed::Box<dyn std::error::Error> = std::boxed::Box::new(err);
    assert!(boxed.to_string().contains(&err.message()));
    assert_eq!(Error::from_code(sys::MEMKIND_ERROR_INVALID), Error::INVALID);

    // An absurd NUMA node is rejected (INVALID, or UNAVAILABLE without NUMA).
    let e =
        FixedKind::map_with(MIB, &MapOptions::new().numa(NumaPolicy::Bind(100_000))).unwrap_err();
    assert!(
        [sys::MEMKIND_ERROR_INVALID, sys::MEMKIND_ERROR_UNAVAILABLE].contains(&e.code()),
        "{e:?}"
    );
}

/// Free 2 MiB huge pages of the machine (HugePages_Free in /proc/meminfo).
fn free_huge_pages() -> usize {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("HugePages_Free:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn huge_pages_map_or_say_why_not() {
    // Touching a huge-page mapping that the system cannot back raises SIGBUS, so
    // only use one when the pages are there.
    if free_huge_pages() < 2 {
        eprintln!("skipped: fewer than 2 free huge pages");
        return;
    }
    match FixedKind::map_with(4 * MIB, &MapOptions::new().huge_pages(true)) {
        Ok(kind) => {
            let (start, _) = kind.region();
            assert_eq!(start as usize % (2 * MIB), 0);
            let b = Box::new_in(1u8, &kind);
            assert!(kind.contains(&*b));
        }
        Err(e) => assert_eq!(e.code(), sys::MEMKIND_ERROR_HUGETLB, "{e:?}"),
    }
}

#[test]
fn detect_kind_finds_the_owner() {
    let kind = FixedKind::map(MIB).unwrap();
    let b = Box::new_in(5u64, &kind);
    let raw = unsafe { sys::memkind_detect_kind(&*b as *const u64 as *mut _) };
    assert_eq!(raw, kind.as_raw());
}
