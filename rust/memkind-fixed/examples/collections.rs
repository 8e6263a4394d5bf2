//! Collections in a fixed kind: a mapped region and a borrowed buffer.
//!
//!     cargo run --example collections
#![cfg_attr(feature = "nightly", feature(allocator_api))]

use std::mem::MaybeUninit;

use allocator_api2::{boxed::Box, vec::Vec};
use memkind_fixed::{FixedKind, MapOptions, NumaPolicy};

fn main() -> Result<(), memkind_fixed::Error> {
    // An owned region: 32 MiB mapped by the library, unmapped when `kind` drops.
    let options = MapOptions::new().numa(NumaPolicy::Default);
    let kind = FixedKind::map_with(32 << 20, &options)?;
    let mut squares: Vec<u64, &FixedKind> = Vec::new_in(&kind);
    squares.extend((0..100_000u64).map(|i| i * i));
    let label = Box::new_in(*b"squares", &kind);
    println!(
        "{} {} in {:?}, inside: {}",
        squares.len(),
        std::str::from_utf8(&*label).unwrap(),
        kind.region(),
        kind.contains(squares.as_ptr())
    );
    println!("{:#?}", kind.stats()?);

    // A borrowed region: the kind cannot outlive `buffer`.
    let mut buffer = vec![MaybeUninit::<u8>::uninit(); 1 << 20];
    let small = FixedKind::new(&mut buffer)?;
    let mut words: Vec<&str, &FixedKind> = Vec::new_in(&small);
    words.extend(["a", "heap", "in", "a", "buffer"]);
    println!("{}", words.join(" "));
    Ok(())
}
