//! Heaps inside memory that you provide: memkind's *fixed kind*, on the private
//! jemalloc of memkind-fixed, with Rust's allocator traits.
//!
//! - [`FixedKind`]: a heap in one region, borrowed (`&mut [MaybeUninit<u8>]`, a
//!   static array, a buffer) or owned (mapped here, optionally on a NUMA node or on
//!   huge pages). `&FixedKind` is an [`allocator_api2::alloc::Allocator`], so
//!   `allocator_api2::vec::Vec::new_in(&kind)` and `Box::new_in(x, &kind)` work on
//!   stable Rust.
//! - [`SharedKind`]: one heap in a shared memory segment that several processes
//!   use at once, blocks named across processes by [`Offset`]; `&SharedKind` is an
//!   `Allocator` too.
//! - [`FixedGlobalAlloc`]: a `#[global_allocator]` over a region given at start-up.
//! - [`Stats`]: how full a region is; [`destroy_stats`]: blocks that dropped kinds
//!   still held; [`Error`]: the library's codes and messages.
//!
//! ```
//! use allocator_api2::vec::Vec;
//! use memkind_fixed::FixedKind;
//!
//! let kind = FixedKind::map(64 << 20)?;           // 64 MiB, unmapped on drop
//! let mut v: Vec<u64, &FixedKind> = Vec::new_in(&kind);
//! v.extend(0..100_000);
//! assert!(kind.contains(v.as_ptr()));
//! println!("{:?}", kind.stats()?);
//! # Ok::<(), memkind_fixed::Error>(())
//! ```
//!
//! The raw C API is in the re-exported [`sys`] crate.
#![cfg_attr(feature = "nightly", feature(allocator_api))]
#![doc(test(attr(cfg_attr(feature = "nightly", feature(allocator_api)))))]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]

mod allocator;
mod error;
mod global;
mod kind;
mod raw;
mod shared;

/// The allocator-api2 crate, whose `Allocator` trait `&FixedKind` and
/// `&SharedKind` implement.
pub use allocator_api2;
pub use error::{Error, Result};
pub use global::FixedGlobalAlloc;
pub use kind::{destroy_stats, DestroyStats, FixedKind, MapOptions, NumaPolicy, Stats};
/// The raw bindings (`memkind-fixed-sys`).
pub use memkind_fixed_sys as sys;
pub use shared::{Offset, SharedKind, SharedStats};
