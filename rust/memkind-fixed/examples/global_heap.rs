//! A program whose every allocation, after start-up, comes from a static array.
//!
//!     cargo run --example global_heap

use std::collections::HashMap;
use std::mem::MaybeUninit;

use memkind_fixed::FixedGlobalAlloc;

#[global_allocator]
static HEAP: FixedGlobalAlloc = FixedGlobalAlloc::new();

const SIZE: usize = 16 << 20;
static mut ARENA: [MaybeUninit<u8>; SIZE] = [MaybeUninit::uninit(); SIZE];

fn main() {
    // SAFETY: the only reference ever made to ARENA.
    let region: &'static mut [MaybeUninit<u8>] = unsafe { &mut *std::ptr::addr_of_mut!(ARENA) };
    HEAP.init(region).expect("the heap");

    let mut counts: HashMap<String, usize> = HashMap::new();
    for word in "the quick brown fox jumps over the lazy dog the end".split(' ') {
        *counts.entry(word.to_owned()).or_default() += 1;
    }
    let the = counts.get_key_value("the").unwrap();
    println!(
        "'the' x{} (key in the static heap: {})",
        the.1,
        HEAP.contains(the.0.as_ptr())
    );
    println!("{:#?}", HEAP.stats().unwrap().unwrap());
}
