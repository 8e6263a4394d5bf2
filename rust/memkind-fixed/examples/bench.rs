//! Benchmark: collections in a fixed kind against the global allocator, in one run.
//!
//!     cargo run --release --example bench [-- --quick]
//!
//! Prints, per workload, the median of 5 interleaved runs for each allocator and the
//! ratio fixed kind / global allocator. A benchmark, not a test: it never fails on
//! timing. bench/run_all.sh runs it with the other benchmarks.
#![cfg_attr(feature = "nightly", feature(allocator_api))]

use std::hint::black_box;
use std::time::Instant;

use allocator_api2::alloc::Global;
use allocator_api2::{boxed::Box, vec::Vec};
use memkind_fixed::FixedKind;

const REPS: usize = 5;

/// `Vec` growth by push to `n` elements (no reserve: every doubling reallocates).
fn vec_growth<A: allocator_api2::alloc::Allocator>(alloc: A, n: u64) -> u64 {
    let mut v: Vec<u64, A> = Vec::new_in(alloc);
    for i in 0..n {
        v.push(i);
    }
    black_box(v.as_ptr());
    v[(n / 2) as usize]
}

/// `Box` churn: `n` boxes of 64 bytes made and dropped, 1000 alive at a time.
fn box_churn<A: allocator_api2::alloc::Allocator + Copy>(alloc: A, n: usize) -> u64 {
    let mut live: std::vec::Vec<Box<[u64; 8], A>> = std::vec::Vec::with_capacity(1000);
    let mut sum = 0u64;
    for i in 0..n {
        if live.len() == 1000 {
            sum = sum.wrapping_add(live.swap_remove(i % 1000)[0]);
        }
        live.push(Box::new_in([i as u64; 8], alloc));
    }
    black_box(sum)
}

fn median(mut xs: std::vec::Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

fn time<F: FnMut()>(mut f: F) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64() * 1e3
}

fn main() -> Result<(), memkind_fixed::Error> {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 10 } else { 1 };
    let kind = FixedKind::map(256 << 20)?;
    let elements = 1_000_000 / scale as u64;
    let boxes = 2_000_000 / scale;

    let (mut vf, mut vg, mut bf, mut bg) = (vec![], vec![], vec![], vec![]);
    for rep in 0..REPS {
        // Alternate which allocator goes first, so a slow moment hits both alike.
        if rep % 2 == 0 {
            vf.push(time(|| {
                vec_growth(&kind, elements);
            }));
            vg.push(time(|| {
                vec_growth(Global, elements);
            }));
        } else {
            vg.push(time(|| {
                vec_growth(Global, elements);
            }));
            vf.push(time(|| {
                vec_growth(&kind, elements);
            }));
        }
        bf.push(time(|| {
            box_churn(&kind, boxes);
        }));
        bg.push(time(|| {
            box_churn(Global, boxes);
        }));
    }
    let (vf, vg, bf, bg) = (median(vf), median(vg), median(bf), median(bg));
    println!("Rust collections, median of {REPS} runs (ms); ratio = fixed kind / global allocator");
    println!(
        "{:<44} {:>10} {:>10} {:>7}",
        "workload", "fixed", "global", "ratio"
    );
    println!(
        "{:<44} {:>10.2} {:>10.2} {:>6.2}x  (target <= 1.10x)",
        format!("Vec<u64> push to {elements} elements"),
        vf,
        vg,
        vf / vg
    );
    println!(
        "{:<44} {:>10.2} {:>10.2} {:>6.2}x",
        format!("Box<[u64; 8]> churn, {boxes} boxes"),
        bf,
        bg,
        bf / bg
    );
    println!(
        "{{\"vec_growth_ms\": {{\"fixed\": {vf:.3}, \"global\": {vg:.3}}}, \"box_churn_ms\": {{\"fixed\": {bf:.3}, \"global\": {bg:.3}}}}}"
    );
    Ok(())
}
