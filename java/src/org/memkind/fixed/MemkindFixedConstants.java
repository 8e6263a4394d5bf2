package org.memkind.fixed;

/**
 * The constants of {@code memkind_fixed.h} that are not in a named enum: the status
 * codes that {@link MemkindException#code()} reports ({@code MEMKIND_SUCCESS} and the
 * negative {@code MEMKIND_ERROR_*}), the library's version, and the shared heaps'
 * limits. The values are the header's, through the package-private class SWIG
 * generates from it.
 *
 * <p>An interface, as it has always been, so that code which implements it to name the
 * constants unqualified keeps compiling; {@code MemkindFixedConstants.MEMKIND_ERROR_INVALID}
 * is the usual way. Every field is a compile-time constant (usable in {@code switch}).
 */
public interface MemkindFixedConstants {
    /** The library's major version ({@code MEMKIND_FIXED_VERSION_MAJOR}). */
    int MEMKIND_FIXED_VERSION_MAJOR = SwigMemkindFixedConstants.MEMKIND_FIXED_VERSION_MAJOR;
    /** The library's minor version. */
    int MEMKIND_FIXED_VERSION_MINOR = SwigMemkindFixedConstants.MEMKIND_FIXED_VERSION_MINOR;
    /** The library's patch level. */
    int MEMKIND_FIXED_VERSION_PATCH = SwigMemkindFixedConstants.MEMKIND_FIXED_VERSION_PATCH;

    /** The operation succeeded (never the code of an exception). */
    int MEMKIND_SUCCESS = SwigMemkindFixedConstants.MEMKIND_SUCCESS;
    /** The kind is not available. */
    int MEMKIND_ERROR_UNAVAILABLE = SwigMemkindFixedConstants.MEMKIND_ERROR_UNAVAILABLE;
    /** mbind() failed. */
    int MEMKIND_ERROR_MBIND = SwigMemkindFixedConstants.MEMKIND_ERROR_MBIND;
    /** mmap() failed. */
    int MEMKIND_ERROR_MMAP = SwigMemkindFixedConstants.MEMKIND_ERROR_MMAP;
    /** Allocating the library's own metadata failed. */
    int MEMKIND_ERROR_MALLOC = SwigMemkindFixedConstants.MEMKIND_ERROR_MALLOC;
    /** An environment variable could not be parsed. */
    int MEMKIND_ERROR_ENVIRON = SwigMemkindFixedConstants.MEMKIND_ERROR_ENVIRON;
    /** An argument is invalid (for example a shared heap's name). */
    int MEMKIND_ERROR_INVALID = SwigMemkindFixedConstants.MEMKIND_ERROR_INVALID;
    /** The most kinds that may be alive at once already are. */
    int MEMKIND_ERROR_TOOMANY = SwigMemkindFixedConstants.MEMKIND_ERROR_TOOMANY;
    /** A kind's operations table lacks a required operation (C only). */
    int MEMKIND_ERROR_BADOPS = SwigMemkindFixedConstants.MEMKIND_ERROR_BADOPS;
    /** Huge pages could not be had. */
    int MEMKIND_ERROR_HUGETLB = SwigMemkindFixedConstants.MEMKIND_ERROR_HUGETLB;
    /** The requested memory type is not available. */
    int MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE =
            SwigMemkindFixedConstants.MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE;
    /** The operation failed. */
    int MEMKIND_ERROR_OPERATION_FAILED = SwigMemkindFixedConstants.MEMKIND_ERROR_OPERATION_FAILED;
    /** jemalloc could not create an arena. */
    int MEMKIND_ERROR_ARENAS_CREATE = SwigMemkindFixedConstants.MEMKIND_ERROR_ARENAS_CREATE;
    /** An unexpected run-time error. */
    int MEMKIND_ERROR_RUNTIME = SwigMemkindFixedConstants.MEMKIND_ERROR_RUNTIME;
    /** The region overlaps the region of a live kind. */
    int MEMKIND_ERROR_REGION_OVERLAP = SwigMemkindFixedConstants.MEMKIND_ERROR_REGION_OVERLAP;
    /** The region holds less than one whole page once aligned. */
    int MEMKIND_ERROR_REGION_TOO_SMALL = SwigMemkindFixedConstants.MEMKIND_ERROR_REGION_TOO_SMALL;
    /** The operation needs a fixed kind. */
    int MEMKIND_ERROR_NOT_FIXED = SwigMemkindFixedConstants.MEMKIND_ERROR_NOT_FIXED;
    /** The kind was already destroyed. */
    int MEMKIND_ERROR_DESTROYED = SwigMemkindFixedConstants.MEMKIND_ERROR_DESTROYED;
    /** The kind's region is a shared mapping inherited through fork(). */
    int MEMKIND_ERROR_SHARED_FORKED = SwigMemkindFixedConstants.MEMKIND_ERROR_SHARED_FORKED;
    /** The segment is not a shared heap. */
    int MEMKIND_ERROR_SHARED_BAD_MAGIC = SwigMemkindFixedConstants.MEMKIND_ERROR_SHARED_BAD_MAGIC;
    /** The shared heap was made by an incompatible version of the library. */
    int MEMKIND_ERROR_SHARED_VERSION = SwigMemkindFixedConstants.MEMKIND_ERROR_SHARED_VERSION;
    /** The segment's size or geometry does not match its header. */
    int MEMKIND_ERROR_SHARED_SIZE = SwigMemkindFixedConstants.MEMKIND_ERROR_SHARED_SIZE;
    /** A shared heap of that name exists already ({@link SharedKind#create}). */
    int MEMKIND_ERROR_SHARED_EXISTS = SwigMemkindFixedConstants.MEMKIND_ERROR_SHARED_EXISTS;
    /** No shared heap of that name ({@link SharedKind#attach}). */
    int MEMKIND_ERROR_SHARED_NOT_FOUND = SwigMemkindFixedConstants.MEMKIND_ERROR_SHARED_NOT_FOUND;
    /** Every process slot of the shared heap is taken. */
    int MEMKIND_ERROR_SHARED_FULL = SwigMemkindFixedConstants.MEMKIND_ERROR_SHARED_FULL;
    /** The operation needs a shared kind. */
    int MEMKIND_ERROR_NOT_SHARED = SwigMemkindFixedConstants.MEMKIND_ERROR_NOT_SHARED;
    /** The segment's pages could not be reserved (/dev/shm or the file system is full, or
     *  more than memory and swap could back). */
    int MEMKIND_ERROR_SHARED_NO_SPACE = SwigMemkindFixedConstants.MEMKIND_ERROR_SHARED_NO_SPACE;
    /** The shared heap's bookkeeping is damaged, or its lock was held too long. */
    int MEMKIND_ERROR_SHARED_CORRUPT = SwigMemkindFixedConstants.MEMKIND_ERROR_SHARED_CORRUPT;

    /** Process slots of a shared heap: processes attached at once, and dead ones not reclaimed. */
    int MEMKIND_SHARED_MAX_PROCESSES = SwigMemkindFixedConstants.MEMKIND_SHARED_MAX_PROCESSES;
    /** The longest a process waits for a shared heap's lock, in ms (then the call fails). */
    int MEMKIND_SHARED_LOCK_TIMEOUT_MS = SwigMemkindFixedConstants.MEMKIND_SHARED_LOCK_TIMEOUT_MS;
    /** memkind_shared_create()'s flag: the name goes when the last live process detaches (C). */
    int MEMKIND_SHARED_UNLINK_ON_LAST_DETACH =
            SwigMemkindFixedConstants.MEMKIND_SHARED_UNLINK_ON_LAST_DETACH;
}
