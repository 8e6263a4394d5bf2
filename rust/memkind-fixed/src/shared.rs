//! `SharedKind`: one heap in one shared memory segment, used by several processes
//! at once (section 7 of `memkind_fixed.h`, `docs/shared.md`).

use core::alloc::Layout;
use core::ffi::{c_void, CStr};
use core::fmt;
use core::ptr::{self, NonNull};
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd};

use memkind_fixed_sys as sys;

use crate::error::{check, Error, Result};
use crate::raw;

/// A heap in a shared memory segment (a POSIX shared memory name or an anonymous
/// memfd) that several processes use at once: memkind-fixed's *shared kind*.
///
/// Each process (each attachment) maps the segment at an address of its own, with
/// its own jemalloc arena and thread caches, and takes pages from one page map in
/// the segment. Any process may free any block. Blocks are named across processes
/// by [`Offset`] ([`offset_of`](SharedKind::offset_of),
/// [`ptr_at`](SharedKind::ptr_at)): the offset of a block is the same everywhere,
/// its address is not.
///
/// ```
/// use allocator_api2::vec::Vec;
/// use memkind_fixed::SharedKind;
///
/// let name = format!("/mkf-doc-{}", std::process::id());
/// let kind = SharedKind::create(Some(&name), 16 << 20)?;
/// let mut v: Vec<u64, &SharedKind> = Vec::new_in(&kind);
/// v.extend(0..1000);
/// let offset = kind.offset_of(v.as_ptr()).unwrap(); // send offset.get() elsewhere
///
/// let other = SharedKind::attach(&name)?; // as another process would
/// let p = other.ptr_at(offset).unwrap().cast::<u64>();
/// assert_eq!(unsafe { *p.as_ptr().add(999) }, 999);
/// drop(v);
/// SharedKind::unlink(&name)?;
/// # Ok::<(), memkind_fixed::Error>(())
/// ```
///
/// `&SharedKind` is an [`allocator_api2::alloc::Allocator`], with the same rules as
/// [`FixedKind`](crate::FixedKind)'s (every `Layout`, zero-size blocks dangling,
/// [`Error::OUT_OF_MEMORY`] when the heap is full). The C library is thread-safe,
/// so a `SharedKind` is `Send` and `Sync`.
///
/// Dropping the kind detaches this process (`memkind_shared_detach`): its caches go
/// back to the heap; blocks it allocated stay valid for the other processes until
/// some process frees them (or [`reclaim`](SharedKind::reclaim) declares them
/// garbage). The segment's name stays until [`SharedKind::unlink`]; a memfd goes
/// with its last descriptor and mapping.
pub struct SharedKind {
    raw: NonNull<sys::memkind>,
}

// SAFETY: memkind_fixed.h: every function is thread-safe, a kind may be used from
// any number of threads at once and a block freed by any thread; a shared kind is
// a kind (section 7). The handle owns nothing tied to a thread.
unsafe impl Send for SharedKind {}
// SAFETY: as above; `&SharedKind` allocates, frees, converts offsets and reads
// statistics, all thread-safe in the C library.
unsafe impl Sync for SharedKind {}

/// The position of a byte in a shared heap's segment: the same in every process
/// attached to the heap, unlike its address. Offsets of blocks are never 0.
///
/// It is a plain `u64` ([`get`](Offset::get), [`from_raw`](Offset::from_raw)) to
/// send through a pipe, a socket, a file or another block of the heap.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Offset(u64);

impl Offset {
    /// The offset whose value is `value` (as [`get`](Offset::get) gave it, maybe
    /// in another process). Any value is accepted here;
    /// [`SharedKind::ptr_at`] refuses those outside the heap.
    pub const fn from_raw(value: u64) -> Offset {
        Offset(value)
    }

    /// The offset as a plain number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl From<Offset> for u64 {
    fn from(offset: Offset) -> u64 {
        offset.0
    }
}

/// Statistics of a shared heap (`memkind_shared_get_stats`), read at the time of
/// the call. Sizes are in bytes. The last four fields are this attachment's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedStats {
    /// The segment: header, page map and heap.
    pub segment_size: usize,
    /// Usable bytes of the heap.
    pub capacity: usize,
    /// Bytes of pages held by some process (its slabs, its large blocks, its
    /// arena's cache, the large block it parked for reuse), dead processes'
    /// included.
    pub used: usize,
    /// `capacity - used`.
    pub free: usize,
    /// The largest run of free pages.
    pub largest_free: usize,
    /// Of `used`, the pages held by dead or detached processes (what
    /// [`SharedKind::reclaim`] gives back).
    pub dead_used: usize,
    /// Processes attached and alive.
    pub processes: u32,
    /// Slots of dead or detached processes still holding pages.
    pub dead_processes: u32,
    /// Times a process repaired the page map after its lock holder died.
    pub recoveries: u64,
    /// This attachment's process slot.
    pub slot: u32,
    /// Bytes of pages this attachment holds.
    pub process_used: usize,
    /// Bytes of this attachment's blocks handed out and not freed (including
    /// blocks other processes freed that it has not taken in yet; not its
    /// parked large block, which is free).
    pub process_allocated: usize,
    /// Blocks other processes freed to this attachment.
    pub remote_frees: u64,
}

/// A `CString` of a segment name, or `MEMKIND_ERROR_INVALID` for one with a NUL.
fn c_name(name: &str) -> Result<CString> {
    CString::new(name).map_err(|_| Error::INVALID)
}

impl SharedKind {
    fn from_rc(rc: i32, raw: sys::memkind_t) -> Result<SharedKind> {
        check(rc)?;
        Ok(SharedKind {
            raw: NonNull::new(raw).ok_or(Error::INVALID)?,
        })
    }

    /// Create a shared heap of `size` usable bytes (rounded up to whole pages) and
    /// attach this process to it (`memkind_shared_create`).
    ///
    /// `name` is a POSIX shared memory name (`"/name"`, see shm_open(3)), created
    /// exclusively; `None` makes an anonymous memfd, which other processes reach
    /// through [`fd`](SharedKind::fd) and [`SharedKind::attach_fd`]. Every page is
    /// reserved now, so a full `/dev/shm` fails here, never with SIGBUS later.
    ///
    /// Errors: `MEMKIND_ERROR_SHARED_EXISTS` (the name is taken),
    /// `MEMKIND_ERROR_SHARED_NO_SPACE` (the pages could not be reserved),
    /// `MEMKIND_ERROR_INVALID` (size 0 or too large, a name that shm_open refuses
    /// or that holds a NUL), and the system errors of the C function. On failure
    /// nothing is left behind.
    pub fn create(name: Option<&str>, size: usize) -> Result<SharedKind> {
        SharedKind::create_with(name, size, false)
    }

    /// [`create`](SharedKind::create), and with `unlink_on_last_detach` the name is
    /// removed when the last live process detaches
    /// (`MEMKIND_SHARED_UNLINK_ON_LAST_DETACH`): the heap goes away with the
    /// processes that use it. Processes that died attached do not count; after a
    /// crash of all of them the name stays until [`unlink`](SharedKind::unlink).
    pub fn create_with(
        name: Option<&str>,
        size: usize,
        unlink_on_last_detach: bool,
    ) -> Result<SharedKind> {
        let name = name.map(c_name).transpose()?;
        let name_ptr = name.as_ref().map_or(ptr::null(), |n| n.as_ptr());
        let flags = if unlink_on_last_detach {
            sys::MEMKIND_SHARED_UNLINK_ON_LAST_DETACH
        } else {
            0
        };
        let mut raw: sys::memkind_t = ptr::null_mut();
        // SAFETY: `name_ptr` is NULL or a NUL-terminated string that outlives the
        // call; `raw` is writable.
        let rc = unsafe { sys::memkind_shared_create(name_ptr, size, flags, &mut raw) };
        SharedKind::from_rc(rc, raw)
    }

    /// Attach this process to the shared heap `name` (as given to
    /// [`create`](SharedKind::create)), `memkind_shared_attach`. Each attachment
    /// is a kind with its own process slot, also within one process.
    ///
    /// Errors: `MEMKIND_ERROR_SHARED_NOT_FOUND` (no such name),
    /// `MEMKIND_ERROR_SHARED_BAD_MAGIC`, `_VERSION`, `_SIZE` (not a usable shared
    /// heap), `MEMKIND_ERROR_SHARED_FULL` (no free process slot; `reclaim` frees
    /// the slots of dead processes), `MEMKIND_ERROR_INVALID` (a name with a NUL).
    pub fn attach(name: &str) -> Result<SharedKind> {
        let name = c_name(name)?;
        let mut raw: sys::memkind_t = ptr::null_mut();
        // SAFETY: a NUL-terminated string that outlives the call; `raw` writable.
        let rc = unsafe { sys::memkind_shared_attach(name.as_ptr(), &mut raw) };
        SharedKind::from_rc(rc, raw)
    }

    /// [`attach`](SharedKind::attach) to the segment open as `fd` (a memfd from
    /// [`fd`](SharedKind::fd), inherited or received over a UNIX socket, or a shm
    /// or tmpfs file opened read-write), `memkind_shared_attach_fd`. The
    /// descriptor is duplicated: the caller keeps its own.
    pub fn attach_fd(fd: BorrowedFd<'_>) -> Result<SharedKind> {
        let mut raw: sys::memkind_t = ptr::null_mut();
        // SAFETY: `raw` is writable; the library only duplicates the descriptor.
        let rc = unsafe { sys::memkind_shared_attach_fd(fd.as_raw_fd(), &mut raw) };
        SharedKind::from_rc(rc, raw)
    }

    /// Remove the name of a shared heap (shm_unlink(3)), `memkind_shared_unlink`.
    /// Processes attached keep using it; its memory goes when the last one
    /// detaches or exits. Errors: `MEMKIND_ERROR_SHARED_NOT_FOUND`,
    /// `MEMKIND_ERROR_INVALID`.
    pub fn unlink(name: &str) -> Result<()> {
        let name = c_name(name)?;
        // SAFETY: a NUL-terminated string that outlives the call.
        check(unsafe { sys::memkind_shared_unlink(name.as_ptr()) })
    }

    /// The segment's name as given at creation; `None` for a memfd and for a kind
    /// attached by descriptor.
    pub fn name(&self) -> Option<&str> {
        // SAFETY: the kind is live; the string belongs to it and lives as long.
        let p = unsafe { sys::memkind_shared_name(self.raw.as_ptr()) };
        if p.is_null() {
            return None;
        }
        // SAFETY: a NUL-terminated string of the kind, valid while `self` is.
        unsafe { CStr::from_ptr(p) }.to_str().ok()
    }

    /// The segment's file descriptor, owned by the kind (`memkind_shared_fd`):
    /// pass it to another process (inheritance, a UNIX socket) for
    /// [`attach_fd`](SharedKind::attach_fd), or `try_clone_to_owned` it to keep it.
    pub fn fd(&self) -> Result<BorrowedFd<'_>> {
        // SAFETY: the kind is live.
        let fd = unsafe { sys::memkind_shared_fd(self.raw.as_ptr()) };
        if fd < 0 {
            return Err(Error::from_code(fd));
        }
        // SAFETY: an open descriptor that the kind closes only when destroyed,
        // which the borrow of `self` prevents.
        Ok(unsafe { BorrowedFd::borrow_raw(fd) })
    }

    /// The heap's statistics, the whole heap's and this attachment's
    /// (`memkind_shared_get_stats`). Also notices processes that died.
    pub fn stats(&self) -> Result<SharedStats> {
        let mut s = core::mem::MaybeUninit::<sys::memkind_shared_stats>::uninit();
        // SAFETY: the kind is live; `s` is writable and filled on success.
        check(unsafe { sys::memkind_shared_get_stats(self.raw.as_ptr(), s.as_mut_ptr()) })?;
        // SAFETY: filled on success.
        let s = unsafe { s.assume_init() };
        Ok(SharedStats {
            segment_size: s.segment_size,
            capacity: s.capacity,
            used: s.used,
            free: s.free,
            largest_free: s.largest_free,
            dead_used: s.dead_used,
            processes: s.processes,
            dead_processes: s.dead_processes,
            recoveries: s.recoveries,
            slot: s.slot,
            process_used: s.process_used,
            process_allocated: s.process_allocated,
            remote_frees: s.remote_frees,
        })
    }

    /// Declare the blocks of every process that died or detached garbage and give
    /// their pages (and their slots) back to the heap, with the large block each
    /// other process keeps parked for reuse; also purge this attachment's cached
    /// pages (`memkind_shared_reclaim`). Returns the bytes given back (not
    /// counting this attachment's purge).
    ///
    /// Pointers (from [`ptr_at`](SharedKind::ptr_at)) to blocks of those processes
    /// must not be used or freed after this call, in any process.
    pub fn reclaim(&self) -> Result<usize> {
        let mut bytes = 0usize;
        // SAFETY: the kind is live; `bytes` is writable.
        check(unsafe { sys::memkind_shared_reclaim(self.raw.as_ptr(), &mut bytes) })?;
        Ok(bytes)
    }

    /// The offset of `ptr` in the segment, the same in every process attached to
    /// the heap (`memkind_shared_offset`); `None` when `ptr` does not lie in the
    /// heap (a zero-size block's dangling pointer does not).
    pub fn offset_of<T: ?Sized>(&self, ptr: *const T) -> Option<Offset> {
        // SAFETY: the kind is live; the pointer is only compared, not read.
        let off = unsafe { sys::memkind_shared_offset(self.raw.as_ptr(), ptr.cast()) };
        (off != 0).then_some(Offset(off))
    }

    /// The address in this attachment of `offset` (`memkind_shared_ptr`), the
    /// inverse of [`offset_of`](SharedKind::offset_of); `None` when the offset does
    /// not lie in the heap.
    ///
    /// The pointer is valid while `self` lives and the block is allocated. A block
    /// reached by offset is one block, whichever process maps it: it must be freed
    /// (with [`free`](SharedKind::free) or [`deallocate`](SharedKind::deallocate),
    /// on any attachment of the heap) **at most once across all processes**, and
    /// not used anywhere after that.
    pub fn ptr_at(&self, offset: Offset) -> Option<NonNull<u8>> {
        // SAFETY: the kind is live; the library checks the offset.
        let p = unsafe { sys::memkind_shared_ptr(self.raw.as_ptr(), offset.0) };
        NonNull::new(p.cast::<u8>())
    }

    /// True when `ptr` lies in the heap (this attachment's mapping of it).
    pub fn contains<T: ?Sized>(&self, ptr: *const T) -> bool {
        self.offset_of(ptr).is_some()
    }

    /// Allocate a block for `layout` in the shared heap: at least `layout.size()`
    /// bytes aligned to `layout.align()`, uninitialised. As
    /// [`FixedKind::allocate`](crate::FixedKind::allocate): a zero-size layout gets
    /// a dangling pointer; a full heap gives [`Error::OUT_OF_MEMORY`].
    pub fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>> {
        // SAFETY: the kind is live while `self` is.
        unsafe { raw::allocate(self.raw.as_ptr(), layout, false) }
    }

    /// [`allocate`](SharedKind::allocate), with the block's bytes set to zero.
    pub fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>> {
        // SAFETY: the kind is live while `self` is.
        unsafe { raw::allocate(self.raw.as_ptr(), layout, true) }
    }

    /// Release a block.
    ///
    /// # Safety
    /// `ptr` was returned for `layout` by `allocate*` or `reallocate` of an
    /// attachment of this heap, in this or another process (then reached through
    /// [`ptr_at`](SharedKind::ptr_at) here), and not released since by anyone.
    pub unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: per the caller, a live block of this heap (or a zero-size one).
        unsafe { raw::deallocate(self.raw.as_ptr(), ptr, layout) }
    }

    /// Resize the block `ptr` of `old` to `new`, keeping its contents up to the
    /// smaller size and aligned to `new.align()`, as
    /// [`FixedKind::reallocate`](crate::FixedKind::reallocate) does. On failure
    /// the old block is left as it was.
    ///
    /// # Safety
    /// As for [`deallocate`](SharedKind::deallocate), with `old` as the layout.
    pub unsafe fn reallocate(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>> {
        // SAFETY: per the caller.
        unsafe { raw::reallocate(self.raw.as_ptr(), ptr, old, new) }
    }

    /// Free a block whose layout the caller may not know, such as one received
    /// by offset from another process (`memkind_free`).
    ///
    /// # Safety
    /// `ptr` is a block of this heap of non-zero size, allocated by any process
    /// and not freed since by any process (see [`ptr_at`](SharedKind::ptr_at)).
    pub unsafe fn free(&self, ptr: NonNull<u8>) {
        // SAFETY: per the caller.
        unsafe { sys::memkind_free(self.raw.as_ptr(), ptr.as_ptr().cast::<c_void>()) }
    }

    /// The usable size of a block (`memkind_malloc_usable_size`): at least the
    /// size it was allocated with, whichever process allocated it.
    ///
    /// # Safety
    /// `ptr` is a live block of this heap of non-zero size.
    pub unsafe fn usable_size(&self, ptr: NonNull<u8>) -> usize {
        // SAFETY: per the caller.
        unsafe { sys::memkind_malloc_usable_size(self.raw.as_ptr(), ptr.as_ptr().cast()) }
    }

    /// The heap's usable size in bytes (`memkind_get_capacity`).
    pub fn capacity(&self) -> usize {
        // SAFETY: the kind is live.
        let c = unsafe { sys::memkind_get_capacity(self.raw.as_ptr()) };
        usize::try_from(c).unwrap_or(0)
    }

    /// Return the pages that this attachment caches to the heap
    /// (`memkind_fixed_purge`).
    pub fn purge(&self) -> Result<()> {
        // SAFETY: the kind is live.
        check(unsafe { sys::memkind_fixed_purge(self.raw.as_ptr()) })
    }

    /// The C handle, for functions of `memkind-fixed-sys`. It stays valid while
    /// `self` lives; do not destroy or detach it.
    pub fn as_raw(&self) -> sys::memkind_t {
        self.raw.as_ptr()
    }
}

impl Drop for SharedKind {
    fn drop(&mut self) {
        // SAFETY: the kind is live and nothing borrows `self` any more.
        let rc = unsafe { sys::memkind_shared_detach(self.raw.as_ptr()) };
        debug_assert_eq!(rc, sys::MEMKIND_SUCCESS, "memkind_shared_detach");
    }
}

impl fmt::Debug for SharedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedKind")
            .field("name", &self.name())
            .field("capacity", &self.capacity())
            .finish()
    }
}
