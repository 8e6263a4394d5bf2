//! memkind-fixed's `FixedKind` against the Rust heaps that also run inside a
//! region their caller gives them: talc and rlsf (TLSF). Each gets a region of the
//! same size, and the same workloads as the C benchmark's (a), (b), (d) and (f):
//!
//!     cargo run --release --locked --offline [-- --quick]     (from bench/rust/)
//!
//! Prints the median of 5 interleaved runs per figure with min–max, and the ratio
//! FixedKind / that heap (< 1: FixedKind is faster). A benchmark, not a test: it
//! never fails on timing. bench/run_all.sh runs it into bench/out/rust_heaps.txt.
//!
//! talc and rlsf are single-threaded heaps (`&mut self`), so there is no
//! two-thread workload here; the C benchmark's (c) has the thread-safe ones.

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};
use std::time::Instant;

use memkind_fixed::FixedKind;
use rlsf::Tlsf;
use talc::source::Claim;
use talc::TalcCell;

const REPS: usize = 5;
/// Every heap's region: (b) keeps about 200 MiB alive at once.
const REGION: usize = 512 << 20;
/// Alignment of every request: what malloc gives.
const ALIGN: usize = 16;

/// One heap inside one region, behind the calls the workloads make.
trait Heap {
    fn name(&self) -> &'static str;
    /// Null on failure.
    unsafe fn alloc(&mut self, size: usize) -> *mut u8;
    unsafe fn free(&mut self, p: *mut u8, size: usize);
    /// Null on failure, with `p` still valid.
    unsafe fn realloc(&mut self, p: *mut u8, old: usize, new: usize) -> *mut u8;
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, ALIGN).expect("a valid layout")
}

struct Fixed(FixedKind<'static>);

impl Heap for Fixed {
    fn name(&self) -> &'static str {
        "FixedKind"
    }
    unsafe fn alloc(&mut self, size: usize) -> *mut u8 {
        self.0
            .allocate(layout(size))
            .map_or(ptr::null_mut(), |p| p.as_ptr().cast())
    }
    unsafe fn free(&mut self, p: *mut u8, size: usize) {
        self.0.deallocate(NonNull::new_unchecked(p), layout(size))
    }
    unsafe fn realloc(&mut self, p: *mut u8, old: usize, new: usize) -> *mut u8 {
        self.0
            .reallocate(NonNull::new_unchecked(p), layout(old), layout(new))
            .map_or(ptr::null_mut(), |p| p.as_ptr().cast())
    }
}

/// talc through its `GlobalAlloc` (realloc grows in place when it can).
struct Talc(TalcCell<Claim>);

impl Heap for Talc {
    fn name(&self) -> &'static str {
        "talc"
    }
    unsafe fn alloc(&mut self, size: usize) -> *mut u8 {
        self.0.alloc(layout(size))
    }
    unsafe fn free(&mut self, p: *mut u8, size: usize) {
        self.0.dealloc(p, layout(size))
    }
    unsafe fn realloc(&mut self, p: *mut u8, old: usize, new: usize) -> *mut u8 {
        self.0.realloc(p, layout(old), new)
    }
}

/// rlsf's TLSF: first-level classes up to 2^26 granules (2 GiB blocks on 64-bit),
/// 16 second-level classes each.
struct Rlsf(Tlsf<'static, u32, u16, 26, 16>);

impl Heap for Rlsf {
    fn name(&self) -> &'static str {
        "rlsf (TLSF)"
    }
    unsafe fn alloc(&mut self, size: usize) -> *mut u8 {
        self.0
            .allocate(layout(size))
            .map_or(ptr::null_mut(), |p| p.as_ptr())
    }
    unsafe fn free(&mut self, p: *mut u8, _size: usize) {
        self.0.deallocate(NonNull::new_unchecked(p), ALIGN)
    }
    unsafe fn realloc(&mut self, p: *mut u8, _old: usize, new: usize) -> *mut u8 {
        self.0
            .reallocate(NonNull::new_unchecked(p), layout(new))
            .map_or(ptr::null_mut(), |p| p.as_ptr())
    }
}

/// A fresh region from the process heap (glibc maps it: zero pages on first
/// touch), leaked: each heap keeps its own for the whole run.
fn region() -> &'static mut [MaybeUninit<u8>] {
    let l = Layout::from_size_align(REGION, 2 << 20).expect("a valid layout");
    // SAFETY: a non-zero size.
    let p = unsafe { std::alloc::alloc(l) }.cast::<MaybeUninit<u8>>();
    assert!(!p.is_null(), "cannot allocate a {REGION}-byte region");
    // SAFETY: just allocated, never freed.
    unsafe { std::slice::from_raw_parts_mut(p, REGION) }
}

fn heaps() -> Vec<Box<dyn Heap>> {
    let fixed = Fixed(FixedKind::new(region()).expect("memkind_create_fixed"));
    let r = region();
    // SAFETY: the region is ours alone for the rest of the run.
    let talc = Talc(TalcCell::new(unsafe {
        Claim::new(r.as_mut_ptr().cast(), r.len())
    }));
    let mut tlsf = Tlsf::new();
    let r = region();
    // SAFETY: as above.
    let taken = unsafe { tlsf.insert_free_block_ptr(NonNull::from(r).cast_slice()) };
    assert!(taken.is_some(), "rlsf took no part of its region");
    vec![Box::new(fixed), Box::new(talc), Box::new(Rlsf(tlsf))]
}

/// Casts `NonNull<[MaybeUninit<u8>]>` to `NonNull<[u8]>`.
trait CastSlice {
    fn cast_slice(self) -> NonNull<[u8]>;
}
impl CastSlice for NonNull<[MaybeUninit<u8>]> {
    fn cast_slice(self) -> NonNull<[u8]> {
        NonNull::slice_from_raw_parts(self.cast::<u8>(), self.len())
    }
}

struct Counts {
    small_pairs: u64,
    random_objects: usize,
    random_iters: usize,
    large_pairs: u64,
    realloc_cycles: usize,
}

/// The inputs of (b), drawn once: sizes 16..=4096 B and a free order.
struct RandomSet {
    sizes: Vec<usize>,
    order: Vec<usize>,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl RandomSet {
    fn new(n: usize, mut seed: u64) -> RandomSet {
        let sizes = (0..n)
            .map(|_| 16 + (splitmix(&mut seed) % (4096 - 16 + 1)) as usize)
            .collect();
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = (splitmix(&mut seed) % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        RandomSet { sizes, order }
    }
}

/// One workload: run it once on a heap and return ns per operation, or None when
/// an allocation failed.
type Workload = fn(&mut dyn Heap, &Counts, &RandomSet) -> Option<f64>;

unsafe fn touch(p: *mut u8) {
    ptr::write_volatile(p, 1);
}

fn pairs(h: &mut dyn Heap, size: usize, n: u64) -> Option<f64> {
    let t = Instant::now();
    for _ in 0..n {
        // SAFETY: the block is freed with the size it was allocated with.
        unsafe {
            let p = h.alloc(size);
            if p.is_null() {
                return None;
            }
            touch(p);
            h.free(black_box(p), size);
        }
    }
    Some(t.elapsed().as_nanos() as f64 / n as f64)
}

fn small(h: &mut dyn Heap, c: &Counts, _: &RandomSet) -> Option<f64> {
    pairs(h, 64, c.small_pairs)
}

fn large(h: &mut dyn Heap, c: &Counts, _: &RandomSet) -> Option<f64> {
    pairs(h, 256 << 10, c.large_pairs)
}

fn random(h: &mut dyn Heap, c: &Counts, s: &RandomSet) -> Option<f64> {
    let mut ptrs = vec![ptr::null_mut::<u8>(); s.sizes.len()];
    let t = Instant::now();
    for _ in 0..c.random_iters {
        for (i, &size) in s.sizes.iter().enumerate() {
            // SAFETY: every block is freed once below, with its size.
            let p = unsafe { h.alloc(size) };
            if p.is_null() {
                for (&q, &sz) in ptrs[..i].iter().zip(&s.sizes) {
                    unsafe { h.free(q, sz) };
                }
                return None;
            }
            unsafe { touch(p) };
            ptrs[i] = p;
        }
        for &i in &s.order {
            unsafe { h.free(ptrs[i], s.sizes[i]) };
        }
    }
    Some(t.elapsed().as_nanos() as f64 / (c.random_iters * s.sizes.len()) as f64)
}

/// (f): a block grown by realloc from 16 B to 16 MiB, doubling; ns per growth step.
/// The first byte must move with the block; the last one is written.
fn realloc_growth(h: &mut dyn Heap, c: &Counts, _: &RandomSet) -> Option<f64> {
    const STEPS: u32 = 20;
    let t = Instant::now();
    for _ in 0..c.realloc_cycles {
        let mut size = 16usize;
        // SAFETY: sizes match the block's throughout; the block is freed once.
        unsafe {
            let mut p = h.alloc(size);
            if p.is_null() {
                return None;
            }
            ptr::write_volatile(p, b'M');
            for _ in 0..STEPS {
                let q = h.realloc(p, size, size * 2);
                if q.is_null() || ptr::read_volatile(q) != b'M' {
                    h.free(if q.is_null() { p } else { q }, size);
                    return None;
                }
                p = q;
                size *= 2;
                ptr::write_volatile(p.add(size - 1), 1);
            }
            h.free(p, size);
        }
    }
    Some(t.elapsed().as_nanos() as f64 / (c.realloc_cycles as f64 * f64::from(STEPS)))
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn fmt(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let div = if quick { 10 } else { 1 };
    let c = Counts {
        small_pairs: 10_000_000 / div as u64,
        random_objects: 100_000 / div,
        random_iters: 20,
        large_pairs: 1_000_000 / div as u64,
        realloc_cycles: 40 / div,
    };
    let set = RandomSet::new(c.random_objects, 42);
    let workloads: [(&str, &str, Workload); 4] = [
        ("(a) 64 B alloc+free", "ns/pair", small),
        (
            "(b) random 16..4096 B, random free order",
            "ns/pair",
            random,
        ),
        ("(d) 256 KiB alloc+free", "ns/pair", large),
        (
            "(f) realloc doubling 16 B..16 MiB",
            "ns/growth",
            realloc_growth,
        ),
    ];
    let mut hs = heaps();
    // samples[w][h]; None once a run failed.
    let mut samples: Vec<Vec<Option<Vec<f64>>>> =
        vec![vec![Some(Vec::new()); hs.len()]; workloads.len()];
    // Interleaved: every workload on every heap before the next repetition, the
    // starting heap rotating, so that a slow moment of the machine hits all alike.
    for rep in 0..REPS {
        for (w, (_, _, run)) in workloads.iter().enumerate() {
            for k in 0..hs.len() {
                let i = (k + rep) % hs.len();
                let Some(cell) = samples[w][i].as_mut() else {
                    continue;
                };
                match run(hs[i].as_mut(), &c, &set) {
                    Some(ns) => cell.push(ns),
                    None => {
                        eprintln!("rust bench: {} failed on {}", workloads[w].0, hs[i].name());
                        samples[w][i] = None;
                    }
                }
            }
        }
    }

    println!(
        "Rust heaps in a caller's region ({} MiB each): median of {REPS} runs [min-max], \
         interleaved{}",
        REGION >> 20,
        if quick {
            "; --quick: a smoke run, not for comparison"
        } else {
            ""
        }
    );
    println!(
        "  FixedKind   memkind-fixed's FixedKind::new(region) (allocate/deallocate/reallocate)"
    );
    println!("  talc        talc 5 TalcCell over Claim::new(region), through GlobalAlloc");
    println!("  rlsf (TLSF) rlsf 0.2 Tlsf<u32, u16, 26, 16>, insert_free_block_ptr(region)");
    print!("\n{:<44}", "workload");
    for h in &hs {
        print!(" {:>20}", h.name());
    }
    println!();
    let mut medians = vec![vec![None; hs.len()]; workloads.len()];
    for (w, (title, unit, _)) in workloads.iter().enumerate() {
        print!("{:<44}", format!("{title}, {unit}"));
        for i in 0..hs.len() {
            let cell = match &mut samples[w][i] {
                Some(v) if !v.is_empty() => {
                    let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
                    let hi = v.iter().cloned().fold(0.0, f64::max);
                    let m = median(v);
                    medians[w][i] = Some(m);
                    format!("{} [{}-{}]", fmt(m), fmt(lo), fmt(hi))
                }
                _ => "FAILED".to_string(),
            };
            print!(" {cell:>20}");
        }
        println!();
    }
    println!("\nRatios: FixedKind / that heap (same run; < 1 means FixedKind is faster)");
    print!("{:<44}", "workload");
    for h in &hs[1..] {
        print!(" {:>20}", h.name());
    }
    println!();
    for (w, (title, _, _)) in workloads.iter().enumerate() {
        print!("{title:<44}");
        for i in 1..hs.len() {
            let r = match (medians[w][0], medians[w][i]) {
                (Some(f), Some(o)) => format!("{:.2}x", f / o),
                _ => "-".to_string(),
            };
            print!(" {r:>20}");
        }
        println!();
    }
    drop(hs);
}
