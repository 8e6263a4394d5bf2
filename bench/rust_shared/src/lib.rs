//! rts-alloc behind a C interface (bench/shared/heap_rts.c is the other side).
//!
//! A handle is one `rts_alloc::Allocator`: one worker of the shared allocator, in
//! one process (rts-alloc's workers are not `Sync`; the benchmark uses one thread
//! per process). Segments are files in /dev/shm, named like POSIX shared memory
//! ("/name" is /dev/shm/name).
//!
//! Frees of blocks that another worker allocated go to that worker's remote-free
//! stack and come back only when the owner cleans it
//! (`Allocator::clean_remote_frees`): rts-alloc leaves when to the caller. This
//! side cleans every `CLEAN_EVERY` allocations, and before it reports an
//! allocation as failed.

use std::ffi::{c_char, c_void, CStr};
use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::ptr::{self, NonNull};

use rts_alloc::Allocator;

/// Slab size: rts-alloc's own tests use 64 KiB (it must hold at least four
/// blocks of the largest class, 4096 B, and at most 65535 of the smallest).
const SLAB_SIZE: u32 = 64 << 10;
/// Workers the segment has room for: the benchmark attaches at most four
/// processes at once.
const MIN_WORKERS: u32 = 8;
/// Allocations between two cleanings of the remote-free stack (one atomic swap
/// when it is empty).
const CLEAN_EVERY: u32 = 64;

pub struct Handle {
    alloc: Allocator,
    since_clean: u32,
}

fn shm_path(name: *const c_char) -> Option<PathBuf> {
    if name.is_null() {
        return None;
    }
    // SAFETY: the C side passes a NUL-terminated string.
    let name = unsafe { CStr::from_ptr(name) }.to_str().ok()?;
    Some(PathBuf::from("/dev/shm").join(name.trim_start_matches('/')))
}

fn boxed(alloc: Result<Allocator, rts_alloc::error::Error>) -> *mut Handle {
    match alloc {
        Ok(alloc) => Box::into_raw(Box::new(Handle {
            alloc,
            since_clean: 0,
        })),
        Err(_) => ptr::null_mut(),
    }
}

/// A new segment of `size` bytes named `name`, joined as its first worker; NULL
/// when it exists or cannot be made. rts-alloc sizes the file with `set_len`
/// (ftruncate): nothing is reserved.
#[no_mangle]
pub extern "C" fn mkfb_rts_create(name: *const c_char, size: usize) -> *mut Handle {
    let Some(path) = shm_path(name) else {
        return ptr::null_mut();
    };
    let file: File = match OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(_) => return ptr::null_mut(),
    };
    // SAFETY: a file made just now, created once.
    boxed(unsafe { Allocator::create(&file, size, MIN_WORKERS, SLAB_SIZE) })
}

/// Joins the segment `name` as a new worker; NULL when there is none or no
/// worker slot is free.
#[no_mangle]
pub extern "C" fn mkfb_rts_attach(name: *const c_char) -> *mut Handle {
    let Some(path) = shm_path(name) else {
        return ptr::null_mut();
    };
    match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(file) => boxed(Allocator::join(&file)),
        Err(_) => ptr::null_mut(),
    }
}

/// Leaves the segment: the worker slot is released and the mapping dropped.
///
/// # Safety
/// `h` is a live handle of this library, used by one thread at a time.
#[no_mangle]
pub unsafe extern "C" fn mkfb_rts_detach(h: *mut Handle) {
    if !h.is_null() {
        // SAFETY: made by Box::into_raw above, detached once.
        drop(unsafe { Box::from_raw(h) });
    }
}

/// Removes the name (the file in /dev/shm); 0 on success.
#[no_mangle]
pub extern "C" fn mkfb_rts_unlink(name: *const c_char) -> i32 {
    match shm_path(name).map(std::fs::remove_file) {
        Some(Ok(())) => 0,
        _ => -1,
    }
}

/// A block of `size` bytes (1..=4096), or NULL.
///
/// # Safety
/// `h` is a live handle of this library, used by one thread at a time.
#[no_mangle]
pub unsafe extern "C" fn mkfb_rts_malloc(h: *mut Handle, size: usize) -> *mut c_void {
    // SAFETY: a live handle, used by one thread.
    let h = unsafe { &mut *h };
    let Ok(size) = u32::try_from(size) else {
        return ptr::null_mut();
    };
    h.since_clean += 1;
    if h.since_clean >= CLEAN_EVERY {
        h.since_clean = 0;
        h.alloc.clean_remote_frees();
    }
    if let Some(p) = h.alloc.allocate(size) {
        return p.as_ptr().cast();
    }
    h.alloc.clean_remote_frees();
    h.alloc
        .allocate(size)
        .map_or(ptr::null_mut(), |p| p.as_ptr().cast())
}

/// Frees a block of any worker of the segment.
///
/// # Safety
/// `h` is a live handle of this library, used by one thread at a time.
#[no_mangle]
pub unsafe extern "C" fn mkfb_rts_free(h: *mut Handle, p: *mut c_void) {
    // SAFETY: a live handle; `p` a live block of this segment.
    unsafe {
        if let Some(p) = NonNull::new(p.cast::<u8>()) {
            (*h).alloc.free(p);
        }
    }
}

/// The offset of a block in the segment, the same in every process.
///
/// # Safety
/// `h` is a live handle of this library, used by one thread at a time.
#[no_mangle]
pub unsafe extern "C" fn mkfb_rts_offset(h: *mut Handle, p: *mut c_void) -> u64 {
    // SAFETY: a live handle; `p` a block of this segment (non-null).
    unsafe { (*h).alloc.offset(NonNull::new_unchecked(p.cast())) as u64 }
}

/// The address in this process of an offset from `mkfb_rts_offset`.
///
/// # Safety
/// `h` is a live handle of this library, used by one thread at a time.
#[no_mangle]
pub unsafe extern "C" fn mkfb_rts_ptr(h: *mut Handle, offset: u64) -> *mut c_void {
    // SAFETY: a live handle; an offset of this segment.
    unsafe { (*h).alloc.ptr_from_offset(offset as usize).as_ptr().cast() }
}
