//! SharedKind: one heap in a shared memory segment, attached more than once in
//! this process and from a second process (this test binary run again in a child
//! mode, selected by environment variables).
#![cfg_attr(feature = "nightly", feature(allocator_api))]

use std::alloc::Layout;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use allocator_api2::boxed::Box;
use allocator_api2::vec::Vec;
use memkind_fixed::{sys, Error, Offset, SharedKind};

const MIB: usize = 1 << 20;

/// Environment of the child mode: the heap's name, the block's offset, its length.
const CHILD_NAME: &str = "MKF_RS_SHARED_CHILD_NAME";
const CHILD_OFFSET: &str = "MKF_RS_SHARED_CHILD_OFFSET";
const CHILD_LEN: &str = "MKF_RS_SHARED_CHILD_LEN";

/// A segment name of this test run; unlinked (if still there) when dropped, and
/// checked gone from /dev/shm.
struct Name(String);

impl Name {
    fn new() -> Name {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        Name(format!("/mkf-rs-test-{}-{n}", std::process::id()))
    }

    fn in_dev_shm(&self) -> bool {
        Path::new("/dev/shm").join(&self.0[1..]).exists()
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = SharedKind::unlink(&self.0);
        if !std::thread::panicking() {
            assert!(!self.in_dev_shm(), "{} left in /dev/shm", self.0);
        }
    }
}

fn pattern(i: usize) -> u64 {
    (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5bd1_e995
}

#[test]
fn a_vec_lives_in_the_shared_heap() {
    let name = Name::new();
    let kind = SharedKind::create(Some(&name.0), 64 * MIB).unwrap();
    assert!(name.in_dev_shm());
    assert_eq!(kind.name(), Some(name.0.as_str()));
    assert!(kind.capacity() >= 64 * MIB);
    let mut v: Vec<u64, &SharedKind> = Vec::new_in(&kind);
    v.extend(0..1_000_000u64);
    assert!(kind.contains(v.as_ptr()));
    assert!(kind.contains(&v[999_999]));
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
    let b = Box::new_in([3u32; 100], &kind);
    assert!(kind.contains(&*b));
    let s = kind.stats().unwrap();
    assert!(
        s.used >= 8_000_000 && s.process_allocated >= 8_000_000,
        "{s:?}"
    );
    assert_eq!(s.processes, 1, "{s:?}");
    assert!(
        s.segment_size > s.capacity && s.capacity >= 64 * MIB,
        "{s:?}"
    );
    assert_eq!(s.free, s.capacity - s.used);
    drop((v, b));
    kind.purge().unwrap();
    assert!(kind.stats().unwrap().process_allocated < 8_000_000);
    SharedKind::unlink(&name.0).unwrap();
    assert!(!name.in_dev_shm());
    // The attachment keeps working after the name is gone.
    let v2: Vec<u8, &SharedKind> = Vec::with_capacity_in(4096, &kind);
    assert!(kind.contains(v2.as_ptr()));
}

#[test]
fn every_layout_and_reallocation() {
    let kind = SharedKind::create(None, 16 * MIB).unwrap();
    for align in [1, 8, 16, 64, 4096, 1 << 16] {
        for size in [0, 1, 24, 1000, 20_000, 300_000] {
            let layout = Layout::from_size_align(size, align).unwrap();
            let block = kind.allocate_zeroed(layout).unwrap();
            let p = block.cast::<u8>();
            assert_eq!(p.as_ptr() as usize % align, 0, "{layout:?}");
            if size == 0 {
                assert_eq!(kind.offset_of(p.as_ptr()), None);
            } else {
                // SAFETY: a fresh zeroed block of `size` bytes.
                assert!(unsafe { std::slice::from_raw_parts(p.as_ptr(), size) }
                    .iter()
                    .all(|&b| b == 0));
                // SAFETY: a live block.
                assert!(unsafe { kind.usable_size(p) } >= size);
            }
            let new = Layout::from_size_align(size * 2 + 8, align).unwrap();
            // SAFETY: allocated above with `layout`.
            let grown = unsafe { kind.reallocate(p, layout, new) }.unwrap();
            assert_eq!(grown.cast::<u8>().as_ptr() as usize % align, 0);
            // SAFETY: allocated above with `new`.
            unsafe { kind.deallocate(grown.cast(), new) };
        }
    }
}

#[test]
fn offsets_round_trip() {
    let kind = SharedKind::create(None, 16 * MIB).unwrap();
    assert_eq!(kind.name(), None);
    let v: Vec<u64, &SharedKind> = (0..10_000u64).fold(Vec::new_in(&kind), |mut v, x| {
        v.push(x);
        v
    });
    let off = kind.offset_of(v.as_ptr()).unwrap();
    assert_ne!(off.get(), 0);
    assert_eq!(Offset::from_raw(off.get()), off);
    assert_eq!(u64::from(off), off.get());
    assert_eq!(
        kind.ptr_at(off).unwrap().as_ptr(),
        v.as_ptr().cast::<u8>().cast_mut()
    );
    // An interior pointer has an offset too.
    let inner = kind.offset_of(&v[10]).unwrap();
    assert_eq!(inner.get(), off.get() + 80);
    assert_eq!(
        kind.ptr_at(inner)
            .unwrap()
            .as_ptr()
            .cast::<u64>()
            .cast_const(),
        &v[10] as *const u64
    );
    // Outside the heap.
    let local = 5u64;
    assert_eq!(kind.offset_of(&local), None);
    assert!(!kind.contains(&local));
    assert_eq!(kind.ptr_at(Offset::from_raw(0)), None);
    assert_eq!(kind.ptr_at(Offset::from_raw(u64::MAX)), None);
    assert_eq!(kind.ptr_at(Offset::from_raw(1 << 40)), None);
    // Offset is a plain u64.
    assert_eq!(std::mem::size_of::<Offset>(), 8);
    let mut set = std::collections::HashSet::new();
    set.insert(off);
    assert!(set.contains(&Offset::from_raw(off.get())));
}

#[test]
fn a_second_attachment_sees_the_same_bytes_at_another_address() {
    let name = Name::new();
    let a = SharedKind::create(Some(&name.0), 16 * MIB).unwrap();
    let b = SharedKind::attach(&name.0).unwrap();
    assert_eq!(b.name(), Some(name.0.as_str()));
    assert_eq!(b.stats().unwrap().processes, 2);
    assert_ne!(a.stats().unwrap().slot, b.stats().unwrap().slot);

    let n = 5000;
    let mut v: Vec<u64, &SharedKind> = Vec::with_capacity_in(n, &a);
    v.extend((0..n).map(pattern));
    let off = a.offset_of(v.as_ptr()).unwrap();
    let p = b.ptr_at(off).unwrap().cast::<u64>();
    assert_ne!(p.as_ptr().cast_const(), v.as_ptr(), "one mapping for both");
    assert!(b.contains(p.as_ptr()) && !a.contains(p.as_ptr()));
    // SAFETY: b's mapping of v's buffer, n u64s.
    let seen = unsafe { std::slice::from_raw_parts_mut(p.as_ptr(), n) };
    assert!(seen.iter().enumerate().all(|(i, &x)| x == pattern(i)));
    seen[7] = 42;
    assert_eq!(v[7], 42);

    // A block of b, written in b, read and freed in a.
    let layout = Layout::array::<u32>(300).unwrap();
    let block = b.allocate(layout).unwrap().cast::<u32>();
    // SAFETY: a fresh block of 300 u32s.
    unsafe { (0..300).for_each(|i| block.as_ptr().add(i).write(i as u32 * 3)) };
    let q = a.ptr_at(b.offset_of(block.as_ptr()).unwrap()).unwrap();
    // SAFETY: a's mapping of the block.
    let via_a = unsafe { std::slice::from_raw_parts(q.as_ptr().cast::<u32>(), 300) };
    assert_eq!(via_a[299], 897);
    // SAFETY: b's block, freed once, by a.
    unsafe { a.deallocate(q, layout) };

    // attach_fd to the same segment.
    let c = SharedKind::attach_fd(a.fd().unwrap()).unwrap();
    assert_eq!(c.name(), None);
    // SAFETY: c's mapping of v's buffer.
    assert_eq!(
        unsafe { *c.ptr_at(off).unwrap().cast::<u64>().as_ptr().add(7) },
        42
    );
    assert_eq!(c.stats().unwrap().processes, 3);
    drop(v);
    drop((b, c));
    let s = a.stats().unwrap();
    assert_eq!(s.processes, 1, "{s:?}");
}

#[test]
fn an_anonymous_heap_is_reached_by_its_descriptor() {
    let a = SharedKind::create(None, 8 * MIB).unwrap();
    let fd = a.fd().unwrap().try_clone_to_owned().unwrap();
    let block = a.allocate(Layout::new::<[u8; 64]>()).unwrap().cast::<u8>();
    // SAFETY: 64 fresh bytes.
    unsafe { block.as_ptr().write_bytes(0xab, 64) };
    let off = a.offset_of(block.as_ptr()).unwrap();
    drop(a); // the block stays valid for the other attachments
    let b = SharedKind::attach_fd(std::os::fd::AsFd::as_fd(&fd)).unwrap();
    let p = b.ptr_at(off).unwrap();
    // SAFETY: the block, still allocated, through b's mapping.
    assert_eq!(unsafe { *p.as_ptr().add(63) }, 0xab);
    // SAFETY: freed once, by b.
    unsafe { b.free(p) };
    assert!(b.reclaim().is_ok());
}

#[test]
fn threads_share_an_attachment() {
    let kind = SharedKind::create(None, 32 * MIB).unwrap();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let kind = &kind;
            s.spawn(move || {
                for round in 0..50 {
                    let v: Vec<u64, &SharedKind> =
                        (0..1000)
                            .map(|i| i * t + round)
                            .fold(Vec::new_in(kind), |mut v, x| {
                                v.push(x);
                                v
                            });
                    assert!(kind.contains(v.as_ptr()));
                    assert_eq!(v[999], 999 * t + round);
                }
            });
        }
    });
}

/// The child mode: attach by name, check the block at the offset, free it.
/// Does nothing in a normal test run.
#[test]
fn child_mode() {
    let Ok(name) = std::env::var(CHILD_NAME) else {
        return;
    };
    let off: u64 = std::env::var(CHILD_OFFSET).unwrap().parse().unwrap();
    let n: usize = std::env::var(CHILD_LEN).unwrap().parse().unwrap();
    let kind = SharedKind::attach(&name).unwrap();
    let p = kind.ptr_at(Offset::from_raw(off)).unwrap();
    // SAFETY: the parent's block of n u64s, through this process's mapping.
    let data = unsafe { std::slice::from_raw_parts(p.as_ptr().cast::<u64>(), n) };
    assert!(data.iter().enumerate().all(|(i, &x)| x == pattern(i)));
    // SAFETY: a live block of the heap.
    assert!(unsafe { kind.usable_size(p) } >= n * 8);
    // SAFETY: the parent handed the block over: freed here, once.
    unsafe { kind.free(p) };
    println!(
        "child: checked {n} values at offset {off} ({:p} here) and freed them",
        p
    );
}

#[test]
fn a_second_process_attaches_by_name_reads_and_frees() {
    let name = Name::new();
    let kind = SharedKind::create(Some(&name.0), 16 * MIB).unwrap();
    let n = 1000; // 8000 bytes: a small block, freed remotely
    let mut v: Vec<u64, &SharedKind> = Vec::with_capacity_in(n, &kind);
    v.extend((0..n).map(pattern));
    let off = kind.offset_of(v.as_ptr()).unwrap();
    // The child frees the buffer: keep this process from freeing it too.
    let v = std::mem::ManuallyDrop::new(v);
    let before = kind.stats().unwrap();

    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_mode", "--nocapture", "--test-threads=1"])
        .env(CHILD_NAME, &name.0)
        .env(CHILD_OFFSET, off.get().to_string())
        .env(CHILD_LEN, n.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("child: checked 1000 values"), "{stdout}");

    let after = kind.stats().unwrap();
    assert_eq!(after.remote_frees, before.remote_frees + 1, "{after:?}");
    assert_eq!(after.processes, 1, "{after:?}");
    assert!(v.capacity() >= n);
}

#[test]
fn bad_input_gives_the_library_errors() {
    let missing = Name::new();
    let e = SharedKind::attach(&missing.0).unwrap_err();
    assert_eq!(e.code(), sys::MEMKIND_ERROR_SHARED_NOT_FOUND);
    assert!(!e.message().is_empty());
    assert_eq!(
        SharedKind::unlink(&missing.0).unwrap_err().code(),
        sys::MEMKIND_ERROR_SHARED_NOT_FOUND
    );
    assert_eq!(
        SharedKind::create(None, 0).unwrap_err(),
        Error::from_code(sys::MEMKIND_ERROR_INVALID)
    );
    assert_eq!(
        SharedKind::attach("/bad\0name").unwrap_err(),
        Error::INVALID
    );
    assert_eq!(
        SharedKind::create(Some("/a\0b"), MIB).unwrap_err(),
        Error::INVALID
    );

    let name = Name::new();
    let kind = SharedKind::create(Some(&name.0), MIB).unwrap();
    assert_eq!(
        SharedKind::create(Some(&name.0), MIB).unwrap_err().code(),
        sys::MEMKIND_ERROR_SHARED_EXISTS
    );
    // A full heap: out of memory, and the heap keeps working.
    let huge = Layout::from_size_align(64 * MIB, 8).unwrap();
    assert!(kind.allocate(huge).unwrap_err().is_out_of_memory());
    let mut v: Vec<u8, &SharedKind> = Vec::new_in(&kind);
    assert!(v.try_reserve(64 * MIB).is_err());
    v.extend_from_slice(b"still works");
    assert_eq!(&v[..], b"still works");
}

#[test]
fn the_last_detach_removes_the_name_when_asked() {
    let name = Name::new();
    let first = SharedKind::create_with(Some(&name.0), MIB, true).unwrap();
    let second = SharedKind::attach(&name.0).unwrap();
    drop(first);
    assert!(name.in_dev_shm(), "a live attachment keeps the name");
    drop(second);
    assert!(!name.in_dev_shm(), "the last detach removes the name");
    assert_eq!(
        SharedKind::attach(&name.0).unwrap_err().code(),
        sys::MEMKIND_ERROR_SHARED_NOT_FOUND
    );

    let kept = Name::new();
    drop(SharedKind::create(Some(&kept.0), MIB).unwrap());
    assert!(kept.in_dev_shm(), "without the flag the heap stays");
    drop(SharedKind::attach(&kept.0).unwrap());
}
