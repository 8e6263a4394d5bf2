/*
 * errors.c - status codes to sentences. Messages are static and only ever added.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static const char *message_of(int err)
{
    switch (err) {
    case MEMKIND_SUCCESS: return "success";
    case MEMKIND_ERROR_UNAVAILABLE: return "the kind is not available";
    case MEMKIND_ERROR_MBIND: return "mbind() failed to place the memory";
    case MEMKIND_ERROR_MMAP: return "mmap() failed to map the memory";
    case MEMKIND_ERROR_MALLOC: return "no memory for the library's own metadata";
    case MEMKIND_ERROR_ENVIRON: return "an environment variable could not be parsed";
    case MEMKIND_ERROR_INVALID: return "invalid argument";
    case MEMKIND_ERROR_TOOMANY: return "too many kinds or regions alive at once";
    case MEMKIND_ERROR_BADOPS: return "the memkind_ops table lacks a required operation";
    case MEMKIND_ERROR_HUGETLB: return "huge pages could not be had";
    case MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE: return "the memory type is not available";
    case MEMKIND_ERROR_OPERATION_FAILED: return "the operation failed";
    case MEMKIND_ERROR_ARENAS_CREATE: return "jemalloc could not create an arena";
    case MEMKIND_ERROR_RUNTIME: return "unexpected run-time error";
    case MEMKIND_ERROR_REGION_OVERLAP: return "the region overlaps a region of a live kind";
    case MEMKIND_ERROR_REGION_TOO_SMALL: return "the region holds no whole page";
    case MEMKIND_ERROR_NOT_FIXED: return "the kind is not a fixed kind";
    case MEMKIND_ERROR_DESTROYED: return "the kind was destroyed";
    case MEMKIND_ERROR_SHARED_FORKED:
        return "the kind's region is a shared mapping inherited through fork(): only its "
               "creator may use it";
    case MEMKIND_ERROR_SHARED_BAD_MAGIC:
        return "the segment is not a memkind-fixed shared heap (wrong magic)";
    case MEMKIND_ERROR_SHARED_VERSION:
        return "the shared heap was made by an incompatible version of the library";
    case MEMKIND_ERROR_SHARED_SIZE:
        return "the segment's size or geometry does not match its header (truncated, "
               "resized, or another page size)";
    case MEMKIND_ERROR_SHARED_EXISTS: return "a shared heap of that name exists already";
    case MEMKIND_ERROR_SHARED_NOT_FOUND: return "no shared heap of that name";
    case MEMKIND_ERROR_SHARED_FULL:
        return "every process slot of the shared heap is taken (reclaim dead processes)";
    case MEMKIND_ERROR_NOT_SHARED: return "the kind is not a shared kind";
    case MEMKIND_ERROR_SHARED_NO_SPACE:
        return "the shared heap's pages could not be reserved (no room in the file system "
               "of its segment, or more than memory and swap could back)";
    case MEMKIND_ERROR_SHARED_CORRUPT:
        return "the shared heap's bookkeeping is damaged, or its lock was held too long";
    default: return NULL;
    }
}

MKF_EXPORT void memkind_error_message(int err, char *msg, size_t size)
{
    if (msg == NULL || size == 0)
        return;
    const char *text = message_of(err);
    if (text != NULL) {
        snprintf(msg, size, "<memkind> %s", text);
    } else if (err > 0) {
        char buf[MEMKIND_ERROR_MESSAGE_SIZE];
        /* GNU strerror_r returns the message, which may not be buf. */
        snprintf(msg, size, "<memkind> %s", strerror_r(err, buf, sizeof(buf)));
    } else {
        snprintf(msg, size, "<memkind> unknown error code %d", err);
    }
}

MKF_EXPORT int memkind_get_version(void) { return 1 * 1000000 + 14 * 1000 + 0; }
