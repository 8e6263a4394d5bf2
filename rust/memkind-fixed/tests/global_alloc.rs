//! A program whose global allocator is a `FixedGlobalAlloc` over a static array.
//! Runs without the test harness (see Cargo.toml) so that `main` decides when the
//! allocator is initialised.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use memkind_fixed::FixedGlobalAlloc;

#[global_allocator]
static HEAP: FixedGlobalAlloc = FixedGlobalAlloc::new();

const REGION_SIZE: usize = 32 << 20;
static mut REGION: [MaybeUninit<u8>; REGION_SIZE] = [MaybeUninit::uninit(); REGION_SIZE];

static PASSED: AtomicUsize = AtomicUsize::new(0);

fn check(name: &str, ok: bool) {
    assert!(ok, "{name}");
    PASSED.fetch_add(1, Ordering::Relaxed);
    println!("ok {name}");
}

fn main() {
    // Before the initialisation: the system allocator serves, and says so.
    let early: Vec<u32> = (0..1000).collect();
    let mut early_grown: Vec<u8> = vec![7; 100];
    check(
        "before init, blocks come from the system",
        !HEAP.contains(early.as_ptr()),
    );
    check("before init, no stats", HEAP.stats().is_none());

    // SAFETY: the only reference ever made to REGION.
    let region: &'static mut [MaybeUninit<u8>] = unsafe { &mut *std::ptr::addr_of_mut!(REGION) };
    let (lo, hi) = (
        region.as_ptr() as usize,
        region.as_ptr() as usize + REGION_SIZE,
    );
    HEAP.init(region).expect("init");
    check("initialised", HEAP.is_initialized());
    check(
        "a second init fails",
        HEAP.init_mapped(1 << 20, &Default::default()).is_err(),
    );

    // After it: new blocks lie in the static region.
    let late: Vec<u64> = (0..10_000).collect();
    let p = late.as_ptr() as usize;
    check(
        "after init, blocks come from the region",
        (lo..hi).contains(&p),
    );
    let s = String::from("a string in the region");
    check("strings too", HEAP.contains(s.as_ptr()));
    let big = vec![0u8; 4 << 20];
    check(
        "zeroed large block in the region",
        HEAP.contains(big.as_ptr()) && big.iter().all(|&b| b == 0),
    );

    // Blocks from before are freed to the system; growing one moves it in.
    drop(early);
    early_grown.resize(100_000, 9);
    check(
        "a grown early block moves into the region",
        HEAP.contains(early_grown.as_ptr()),
    );
    check(
        "its contents survive",
        early_grown[..100].iter().all(|&b| b == 7) && early_grown[100..].iter().all(|&b| b == 9),
    );

    // Over-aligned blocks and reallocation that keeps the alignment.
    #[repr(align(4096))]
    struct Page([u8; 4096]);
    let mut pages: Vec<Page> = Vec::with_capacity(1);
    for _ in 0..64 {
        pages.push(Page([1; 4096]));
        check_quiet(pages.as_ptr() as usize % 4096 == 0 && HEAP.contains(pages.as_ptr()));
    }
    check(
        "4 KiB-aligned vector grows aligned in the region",
        pages.iter().all(|p| p.0[4095] == 1),
    );

    // Threads allocate and free in the region at once.
    let handles: Vec<_> = (0..4)
        .map(|t| {
            thread::spawn(move || {
                let mut inside = true;
                for i in 0..2000 {
                    let v: Vec<usize> = vec![t * i; 1 + i % 300];
                    inside &= HEAP.contains(v.as_ptr());
                }
                inside
            })
        })
        .collect();
    let inside = handles.into_iter().all(|h| h.join().unwrap());
    check("threads allocate in the region", inside);

    // Exhaustion: try_reserve reports it, the heap keeps working.
    let mut huge: Vec<u8> = Vec::new();
    check(
        "a request larger than the region fails",
        huge.try_reserve(REGION_SIZE * 2).is_err(),
    );
    let after: Vec<u8> = vec![1; 1024];
    check("and the heap still serves", HEAP.contains(after.as_ptr()));

    let stats = HEAP.stats().unwrap().unwrap();
    check(
        "stats see the region",
        stats.capacity > 0 && stats.capacity <= REGION_SIZE && stats.allocated > 0,
    );
    check("the failure was counted", stats.failed_allocs >= 1);

    let passed = PASSED.load(Ordering::Relaxed);
    println!("test result: ok. {passed} passed; 0 failed");
}

fn check_quiet(ok: bool) {
    assert!(ok);
}
