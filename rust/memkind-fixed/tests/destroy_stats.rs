//! destroy_stats(): blocks a dropped kind still held are counted, once. In a file
//! of its own, so that no other test drops kinds in this process meanwhile.
#![cfg_attr(feature = "nightly", feature(allocator_api))]

use allocator_api2::boxed::Box;
use allocator_api2::vec::Vec;
use memkind_fixed::{destroy_stats, FixedKind};

#[test]
fn forgotten_blocks_are_counted_when_the_kind_drops() {
    let before = destroy_stats();

    // A kind whose blocks all went away: nothing to count.
    let kind = FixedKind::map(4 << 20).unwrap();
    let v: Vec<u64, &FixedKind> = (0..1000u64).fold(Vec::new_in(&kind), |mut v, x| {
        v.push(x);
        v
    });
    assert_eq!(v.iter().sum::<u64>(), 999 * 1000 / 2);
    drop(v);
    drop(kind);
    assert_eq!(destroy_stats(), before);

    // Two blocks whose destructors never run: a 64 B box and a 64 KiB vector.
    let kind = FixedKind::map(4 << 20).unwrap();
    std::mem::forget(Box::new_in([7u8; 64], &kind));
    let mut v: Vec<u8, &FixedKind> = Vec::with_capacity_in(64 << 10, &kind);
    v.resize(64 << 10, 1);
    std::mem::forget(v);
    drop(kind);
    let after = destroy_stats();
    assert_eq!(after.kinds - before.kinds, 1);
    assert_eq!(after.blocks - before.blocks, 2);
    assert_eq!(after.bytes - before.bytes, 64 + (64 << 10));
}
