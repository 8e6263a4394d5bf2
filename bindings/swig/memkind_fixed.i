/*
 * memkind_fixed.i - the one SWIG interface to memkind_fixed.h, for every target
 * language SWIG supports (Java first; Perl 5 is built and tested too).
 *
 * The declarations come from the public header itself (%include below): nothing
 * that the header says is copied here. This file only adds what SWIG cannot read
 * from C:
 *   1. what is left out (kind-building operations that take C function pointers);
 *   2. the C conventions turned into the target language's:
 *      - a function that returns a status code raises the language's exception when
 *        the code is not 0, and returns nothing (or its output parameter);
 *      - an allocator that returns NULL with errno set raises the exception with
 *        that errno value as code (ENOMEM: out of memory);
 *      - output parameters (memkind_t *kind, void **out, ...) become return values;
 *   3. ownership: kinds returned by memkind_create_fixed*() and
 *      memkind_shared_create/_attach*() belong to the proxy, whose destructor is
 *      memkind_destroy_kind() (a detach, for a shared kind); memkind_destroy_kind()
 *      and memkind_shared_detach() take the kind back from the proxy (%delobject).
 *      Statistics structs are copies owned by their proxy.
 *   4. per language: how an exception is raised, and (Java) how blocks cross as
 *      direct java.nio.ByteBuffers and regions as (address, size) longs.
 *
 * Exceptions carry the status code and memkind_error_message()'s sentence. Java:
 * org.memkind.fixed.MemkindException(code, message), and its subclass
 * MemkindOutOfMemoryException for ENOMEM. Other languages: the language's runtime
 * error (MemoryError where it has one, for ENOMEM) with the message
 * "<function>: <sentence> (code <n>)".
 *
 * Generating (java/BUILD and bindings/swig/perl/BUILD do this; Java names its module
 * class MemkindFixed with -module, and java/swig_java.sh then makes the constants
 * interface package-private, which SWIG 4.1 cannot: see section 5):
 *   swig -java -package org.memkind.fixed -module MemkindFixed \
 *        -Icore/include -o memkind_fixed_wrap.c -outdir <dir> bindings/swig/memkind_fixed.i
 *   swig -perl5 -Icore/include -o memkind_fixed_perl.c bindings/swig/memkind_fixed.i
 */
%module memkind_fixed

%{
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memkind_fixed.h"
%}

/* SWIG's parser does not need GCC's allocation attributes. */
#define MEMKIND_FIXED_NO_ATTRIBUTES

/* The library is built for LP64 Linux: uint64_t is unsigned long and ssize_t is
 * long there (ssize_t comes from <sys/types.h>, which SWIG does not read). */
#define SWIGWORDSIZE64
%include <stdint.i>
typedef long long ssize_t;  /* long long: Java's long (SWIG maps C long to Java int) */

%include <exception.i>

/* ------------------------------------------------------------------------------
 * 1. Left out: building kinds from ops tables, and the out-of-memory callback, need
 *    C function pointers and raw struct memkind, which target languages cannot
 *    provide. memkind_defrag_reallocate returns a moved block without its size (no
 *    buffer can be made of it). The process-wide destroy statistics are a C,
 *    Python and Rust tool for now.
 *    A new int-returning function in the header must be listed in section 3 (or
 *    here); otherwise it is wrapped returning its raw status code.
 * ------------------------------------------------------------------------------ */
%ignore memkind_ops;
%ignore MEMKIND_FIXED_OPS;
%ignore MEMKIND_DEFAULT_OPS;
%ignore memkind_create;
%ignore memkind_fixed_create;
%ignore memkind_fixed_destroy;
%ignore memkind_fixed_mmap;
%ignore memkind_posix_check_alignment;
%ignore memkind_thread_get_arena;
%ignore memkind_defrag_reallocate;
%ignore memkind_fixed_set_oom_callback;
%ignore memkind_fixed_oom_fn;
%ignore memkind_get_destroy_stats;
%ignore memkind_destroy_stats;
%ignore extent_hooks_s;
%rename("$ignore", regextarget=1) "^memkind_(default|arena)_";

/* ------------------------------------------------------------------------------
 * 2. How each language raises an error: MKF_RAISE(function name, code).
 * ------------------------------------------------------------------------------ */
#if defined(SWIGJAVA)
%{
/* Throw org.memkind.fixed.MemkindException(code, message), or its
 * MemkindOutOfMemoryException subclass for ENOMEM. */
static void mkf_java_throw(JNIEnv *jenv, int code) {
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    jclass cls;
    jmethodID ctor;
    jstring jmsg;
    jobject ex;

    memkind_error_message(code, msg, sizeof msg);
    cls = (*jenv)->FindClass(jenv, code == ENOMEM
                                       ? "org/memkind/fixed/MemkindOutOfMemoryException"
                                       : "org/memkind/fixed/MemkindException");
    if (!cls)
        return; /* NoClassDefFoundError is pending */
    ctor = (*jenv)->GetMethodID(jenv, cls, "<init>", "(ILjava/lang/String;)V");
    jmsg = ctor ? (*jenv)->NewStringUTF(jenv, msg) : NULL;
    ex = jmsg ? (*jenv)->NewObject(jenv, cls, ctor, (jint)code, jmsg) : NULL;
    if (ex)
        (*jenv)->Throw(jenv, (jthrowable)ex);
}

/* A direct ByteBuffer over [ptr, ptr + size), or NULL with an exception pending. */
static jobject mkf_java_buffer(JNIEnv *jenv, void *ptr, size_t size) {
    if (size > (size_t)INT32_MAX) {
        SWIG_JavaThrowException(jenv, SWIG_JavaIllegalArgumentException,
                                "a ByteBuffer holds at most 2^31 - 1 bytes");
        return NULL;
    }
    return (*jenv)->NewDirectByteBuffer(jenv, ptr, (jlong)size);
}

/* The address of a direct ByteBuffer, NULL for a Java null; throws
 * IllegalArgumentException for a heap buffer. */
static int mkf_java_address(JNIEnv *jenv, jobject buf, void **out) {
    *out = NULL;
    if (!buf)
        return 1;
    *out = (*jenv)->GetDirectBufferAddress(jenv, buf);
    if (!*out) {
        SWIG_JavaThrowException(jenv, SWIG_JavaIllegalArgumentException,
                                "a direct ByteBuffer is required");
        return 0;
    }
    return 1;
}
%}
%define MKF_RAISE(fn, code)
{ mkf_java_throw(jenv, (code)); return $null; }
%enddef
#else
%{
/* "<function>: <sentence> (code <n>)" */
static const char *mkf_describe(const char *fn, int code, char *buf, size_t size) {
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    memkind_error_message(code, msg, sizeof msg);
    snprintf(buf, size, "%s: %s (code %d)", fn, msg, code);
    return buf;
}
%}
%define MKF_RAISE(fn, code)
{
    char mkf_text_[MEMKIND_ERROR_MESSAGE_SIZE + 64];
    int mkf_code_ = (code);
    SWIG_exception_fail(mkf_code_ == ENOMEM ? SWIG_MemoryError : SWIG_RuntimeError,
                        mkf_describe(#fn, mkf_code_, mkf_text_, sizeof mkf_text_));
}
%enddef
#endif

/* ------------------------------------------------------------------------------
 * 3. Conventions of the header, function by function.
 * ------------------------------------------------------------------------------ */

/* int fn(...) returns 0 or an error code: raise on error, return nothing. */
%define MKF_STATUS(fn)
%exception fn {
    $action
    if (result != 0) MKF_RAISE(fn, result)
}
#if defined(SWIGJAVA)
%typemap(jni) int fn "void"
%typemap(jtype) int fn "void"
%typemap(jstype) int fn "void"
%typemap(javaout) int fn { $jnicall; }
%typemap(out) int fn ""
#else
%typemap(out) int fn = void;
#endif
%enddef

/* int fn(..., T *out) returns 0 or an error code and fills an output parameter:
 * raise on error, return the output. The output parameter's typemaps (below) make
 * the result; in Java its jni/jtype/jstype/javaout become the function's. */
%define MKF_STATUS_OUT(fn)
%exception fn {
    $action
    if (result != 0) MKF_RAISE(fn, result)
}
#if defined(SWIGJAVA)
%typemap(out) int fn ""
#else
%typemap(out) int fn = void;
#endif
%enddef

/* void *fn(...) returns NULL with errno set on failure. NULL without errno is no
 * error (a request of 0 bytes, or realloc to 0 bytes). */
%define MKF_ALLOCATOR(fn)
%exception fn {
    errno = 0;
    $action
    if (!result && errno != 0) MKF_RAISE(fn, errno)
}
%newobject fn;
%enddef

MKF_STATUS(memkind_destroy_kind)
MKF_STATUS(memkind_check_available)
MKF_STATUS(memkind_update_cached_stats)
MKF_STATUS(memkind_fixed_add_region)
MKF_STATUS(memkind_fixed_purge)
MKF_STATUS(memkind_region_unmap)
MKF_STATUS(memkind_shared_detach)
MKF_STATUS(memkind_shared_unlink)
MKF_STATUS_OUT(memkind_shared_create)
MKF_STATUS_OUT(memkind_shared_attach)
MKF_STATUS_OUT(memkind_shared_attach_fd)
MKF_STATUS_OUT(memkind_shared_get_stats)
MKF_STATUS_OUT(memkind_shared_reclaim)
MKF_STATUS_OUT(memkind_create_fixed)
MKF_STATUS_OUT(memkind_create_fixed_flags)
MKF_STATUS_OUT(memkind_posix_memalign)
MKF_STATUS_OUT(memkind_get_stat)
MKF_STATUS_OUT(memkind_fixed_get_stats)
MKF_STATUS_OUT(memkind_region_map)
MKF_ALLOCATOR(memkind_malloc)
MKF_ALLOCATOR(memkind_calloc)
MKF_ALLOCATOR(memkind_realloc)

/* ------------------------------------------------------------------------------
 * 4. The kind handle: an opaque struct whose proxy owns kinds it was given by
 *    memkind_create_fixed*() or memkind_shared_create/_attach*() and destroys them.
 * ------------------------------------------------------------------------------ */
#if defined(SWIGJAVA)
%rename(Memkind) memkind;
%rename(MemkindFixedStats) memkind_fixed_stats;
%rename(MemkindSharedStats) memkind_shared_stats;
/* Typemaps apply to the declarations that follow them: these must come before
 * `struct memkind` below. No finalizers: a finalizer destroyed the kind of a
 * FixedKind that was dropped while its ByteBuffers still pointed into the region.
 * A proxy's delete() is the only way its C object goes; FixedKind says when.
 * Every proxy and pointer wrapper (SWIGTYPE_p_...) is package-private, as every
 * generated class is (section 5; java/public_api_test.sh checks the jar). */
%typemap(javafinalize) SWIGTYPE ""
%typemap(javaclassmodifiers) SWIGTYPE, SWIGTYPE *, SWIGTYPE &, SWIGTYPE [] "final class"
#endif
%nodefaultctor memkind;
%nodefaultctor memkind_fixed_stats;
%nodefaultctor memkind_shared_stats;
struct memkind {};  /* complete for SWIG only, so that it gets a proxy class */
%extend memkind {
    /* A kind whose proxy goes away unused is destroyed; its region stays. */
    ~memkind() { (void)memkind_destroy_kind($self); }
}
%newobject memkind_create_fixed;
%newobject memkind_create_fixed_flags;
%newobject memkind_posix_memalign;
%newobject memkind_fixed_get_stats;
%newobject memkind_shared_create;
%newobject memkind_shared_attach;
%newobject memkind_shared_attach_fd;
%newobject memkind_shared_get_stats;
%delobject memkind_destroy_kind;
%delobject memkind_shared_detach;

/* Output parameters: the C side gets a local to fill. */
%typemap(in, numinputs=0) memkind_t *kind (memkind_t temp = NULL) "$1 = &temp;"
%typemap(in, numinputs=0) void **memptr (void *temp = NULL) "$1 = &temp;"
%typemap(in, numinputs=0) void **out (void *temp = NULL) "$1 = &temp;"
%typemap(in, numinputs=0) size_t *value (size_t temp = 0) "$1 = &temp;"
%typemap(in, numinputs=0) struct memkind_fixed_stats *out ($*1_ltype temp),
                           struct memkind_shared_stats *out ($*1_ltype temp)
    "memset(&temp, 0, sizeof temp); $1 = &temp;"
%typemap(in, numinputs=0) (char *msg, size_t size) (char temp[MEMKIND_ERROR_MESSAGE_SIZE])
    "$1 = temp; $2 = sizeof temp;"

/* A statistics struct is read-only, and handed out as a copy its proxy owns
 * (mkf_stats_copy(&temp, sizeof temp): a malloc'd copy of either struct). */
%immutable memkind_fixed_stats;
%immutable memkind_shared_stats;
%{
static void *mkf_stats_copy(const void *stats, size_t size) {
    void *copy = malloc(size);
    if (copy)
        memcpy(copy, stats, size);
    return copy;
}
%}

#if defined(SWIGJAVA)
/* ------------------------------------------------------------------------------
 * 5. Java: blocks cross as direct ByteBuffers, regions as addresses, kinds as
 *    Memkind proxies.
 *    Every generated class is package-private in org.memkind.fixed; the API is
 *    hand-written in java/src: FixedKind, SharedKind, the exceptions, and the
 *    constants classes MemkindFixedConstants, MemkindRegionPolicy,
 *    MemkindRegionFlags and MemkindRegionMapFlags, whose fields are read from
 *    their generated twins Swig<name> below (java/public_api_test.sh checks that
 *    no public class is generated and that each twin pair has the same fields).
 * ------------------------------------------------------------------------------ */
%rename("%(lowercamelcase)s", %$ismember) "";
%rename(MemkindConst) memkind_const;
%rename(MemkindStatType) memkind_stat_type;
%rename(MemkindMemUsagePolicy) memkind_mem_usage_policy;
%rename(SwigMemkindRegionFlags) memkind_region_flags;
%rename(SwigMemkindRegionPolicy) memkind_region_policy;
%rename(SwigMemkindRegionMapFlags) memkind_region_map_flags;
/* Enums are int constants, compile-time ones where the C expression is also Java
 * (`1u << 0` is not: those are read from the library when the class loads). Every
 * enum's class is package-private. The header's anonymous enum (MEMKIND_ERROR_*)
 * and #defines go to SWIG's constants interface, which SWIG 4.1 always writes
 * public and names after the module (MemkindFixedConstants) with no option for
 * either (swig/swig#409; SWIG 4.3 has %pragma(java) constantsmodifiers):
 * java/swig_java.sh renames it SwigMemkindFixedConstants and makes it
 * package-private. */
%include <enumtypeunsafe.swg>
%typemap(javaclassmodifiers) enum SWIGTYPE "final class"
%javaconst(1);
%javaconst(0) MEMKIND_REGION_ZEROED;
%javaconst(0) MEMKIND_REGION_PURGE;
%javaconst(0) MEMKIND_REGION_MAP_HUGETLB;
%pragma(java) moduleclassmodifiers = "final class"
%pragma(java) jniclassclassmodifiers = "final class"
/* The JNI library loads with the first class that needs it, by NativeLibrary
 * (java/src): the file named by the system property org.memkind.fixed.library, else
 * the copy the jar carries, else libmemkind_fixed_jni.so from java.library.path. */
%pragma(java) jniclasscode = %{
  static {
    NativeLibrary.load();
  }
%}
/* A kind is destroyed by its proxy, Memkind.delete(): one way, and the proxy
 * cannot be left owning a destroyed kind. */
%ignore memkind_destroy_kind;
%ignore memkind_shared_detach;  /* as memkind_destroy_kind for a shared kind */

/* void *addr: a region's address, as a Java long. A region may be larger than a
 * ByteBuffer can be (2^31 - 1 bytes), so regions cross as (address, size) longs;
 * FixedKind takes a caller's region as a ByteBuffer and passes its address
 * (mkf_buffer_address) and capacity. */
%typemap(jni) void *addr "jlong"
%typemap(jtype) void *addr "long"
%typemap(jstype) void *addr "long"
%typemap(javain) void *addr "$javainput"
%typemap(in) void *addr "$1 = (void *)(uintptr_t)$input;"

/* void *ptr: a direct ByteBuffer (its address), or null for NULL. */
%typemap(jni) void *ptr "jobject"
%typemap(jtype) void *ptr "java.nio.ByteBuffer"
%typemap(jstype) void *ptr "java.nio.ByteBuffer"
%typemap(javain) void *ptr "$javainput"
%typemap(in) void *ptr {
    if (!mkf_java_address(jenv, $input, &$1))
        return $null;
}

/* The address of a direct ByteBuffer (0 for null), for a region given as one. */
%{
static long long mkf_buffer_address(void *ptr) { return (long long)(uintptr_t)ptr; }
%}
long long mkf_buffer_address(void *ptr);

/* The Java side of a function that returns a ByteBuffer. */
%define MKF_JAVA_RETURNS_BUFFER(decl)
%typemap(jni) decl "jobject"
%typemap(jtype) decl "java.nio.ByteBuffer"
%typemap(jstype) decl "java.nio.ByteBuffer"
%typemap(javaout) decl { return $jnicall; }
%enddef

/* Allocators: a ByteBuffer of the requested size over the block (null for NULL). */
%define MKF_JAVA_BLOCK(fn, capacity)
MKF_JAVA_RETURNS_BUFFER(void *fn)
%typemap(out) void *fn {
    $result = NULL;
    if ($1) {
        $result = mkf_java_buffer(jenv, $1, (capacity));
        if (!$result)
            memkind_free(NULL, $1);
    }
}
%enddef
MKF_JAVA_BLOCK(memkind_malloc, arg2)
MKF_JAVA_BLOCK(memkind_calloc, arg2 * arg3)
MKF_JAVA_BLOCK(memkind_realloc, arg3)

MKF_JAVA_RETURNS_BUFFER(int memkind_posix_memalign)
%typemap(argout) void **memptr {
    if (*$1) {
        $result = mkf_java_buffer(jenv, *$1, arg4);
        if (!$result)
            memkind_free(arg1, *$1);
    }
}

/* memkind_region_map returns the region's address (see void *addr). */
%typemap(jni) int memkind_region_map "jlong"
%typemap(jtype) int memkind_region_map "long"
%typemap(jstype) int memkind_region_map "long"
%typemap(javaout) int memkind_region_map { return $jnicall; }
%typemap(argout) void **out "$result = (jlong)(uintptr_t)*$1;"

/* A new kind: a Memkind proxy that owns it ($owner from %newobject). */
%define MKF_JAVA_RETURNS_KIND(fn)
%typemap(jni) int fn "jlong"
%typemap(jtype) int fn "long"
%typemap(jstype) int fn "Memkind"
%typemap(javaout) int fn {
    long cPtr = $jnicall;
    return (cPtr == 0) ? null : new Memkind(cPtr, $owner);
}
%enddef
MKF_JAVA_RETURNS_KIND(memkind_create_fixed)
MKF_JAVA_RETURNS_KIND(memkind_create_fixed_flags)
%typemap(argout) memkind_t *kind "*(memkind_t *)&$result = *$1;"

MKF_JAVA_RETURNS_KIND(memkind_shared_create)
MKF_JAVA_RETURNS_KIND(memkind_shared_attach)
MKF_JAVA_RETURNS_KIND(memkind_shared_attach_fd)

/* A size_t output (memkind_get_stat's value, memkind_shared_reclaim's bytes). */
%define MKF_JAVA_RETURNS_SIZE(fn)
%typemap(jni) int fn "jlong"
%typemap(jtype) int fn "long"
%typemap(jstype) int fn "long"
%typemap(javaout) int fn { return $jnicall; }
%enddef
MKF_JAVA_RETURNS_SIZE(memkind_get_stat)
MKF_JAVA_RETURNS_SIZE(memkind_shared_reclaim)
%typemap(argout) size_t *value "$result = (jlong)*$1;"

/* Statistics: a copy owned by its proxy (see mkf_stats_copy). */
%define MKF_JAVA_RETURNS_STATS(fn, proxy)
%typemap(jni) int fn "jlong"
%typemap(jtype) int fn "long"
%typemap(jstype) int fn "proxy"
%typemap(javaout) int fn {
    long cPtr = $jnicall;
    return (cPtr == 0) ? null : new proxy(cPtr, $owner);
}
%enddef
MKF_JAVA_RETURNS_STATS(memkind_fixed_get_stats, MemkindFixedStats)
MKF_JAVA_RETURNS_STATS(memkind_shared_get_stats, MemkindSharedStats)
%typemap(argout) struct memkind_fixed_stats *out, struct memkind_shared_stats *out {
    $*1_ltype *copy = mkf_stats_copy($1, sizeof *$1);
    if (!copy) {
        SWIG_JavaThrowException(jenv, SWIG_JavaOutOfMemoryError, "statistics copy");
        return $null;
    }
    *($*1_ltype **)&$result = copy;
}

/* A direct ByteBuffer over `size` bytes at `offset` of a shared kind's segment, in
 * this process's mapping (memkind_shared_ptr() checked at both ends), for
 * SharedKind.buffer(); IllegalArgumentException when the bytes are not all in the
 * heap. memkind_shared_ptr itself returns an address without a size, which no
 * buffer can be made of. */
%ignore memkind_shared_ptr;
%{
static void *mkf_shared_block(struct memkind *kind, uint64_t offset, size_t size) {
    char *start = memkind_shared_ptr(kind, offset);
    if (!start || size == 0)
        return start;
    if (offset + size - 1 < offset || memkind_shared_ptr(kind, offset + size - 1) != start + size - 1)
        return NULL;
    return start;
}
%}
MKF_JAVA_RETURNS_BUFFER(void *mkf_shared_block)
%typemap(out) void *mkf_shared_block {
    if (!$1) {
        SWIG_JavaThrowException(jenv, SWIG_JavaIllegalArgumentException,
                                "the bytes are not all in this shared heap");
        return $null;
    }
    $result = mkf_java_buffer(jenv, $1, arg3);
}
void *mkf_shared_block(struct memkind *kind, uint64_t offset, size_t size);

%typemap(jni) void memkind_error_message "jstring"
%typemap(jtype) void memkind_error_message "String"
%typemap(jstype) void memkind_error_message "String"
%typemap(javaout) void memkind_error_message { return $jnicall; }
%typemap(argout) (char *msg, size_t size) "$result = (*jenv)->NewStringUTF(jenv, $1);"

#else
/* ------------------------------------------------------------------------------
 * 5. Other languages (SWIG's unified typemap library): outputs are appended to
 *    the result; memory stays a pointer object (use cdata.i's cdata()/memmove()).
 * ------------------------------------------------------------------------------ */
%include <cdata.i>

%typemap(argout, noblock=1) memkind_t *kind {
    %append_output(SWIG_NewPointerObj(SWIG_as_voidptr(*$1), $descriptor(struct memkind *), SWIG_POINTER_OWN));
}
%typemap(argout, noblock=1) void **memptr {
    %append_output(SWIG_NewPointerObj(*$1, $descriptor(void *), 0));
}
%typemap(argout, noblock=1) void **out {
    %append_output(SWIG_NewPointerObj(*$1, $descriptor(void *), 0));
}
%typemap(argout, noblock=1, fragment=SWIG_From_frag(size_t)) size_t *value {
    %append_output(SWIG_From(size_t)(*$1));
}
%typemap(argout) struct memkind_fixed_stats *out, struct memkind_shared_stats *out {
    $*1_ltype *copy = mkf_stats_copy($1, sizeof *$1);
    if (!copy)
        SWIG_exception_fail(SWIG_MemoryError, "statistics copy");
    %append_output(SWIG_NewPointerObj(copy, $1_descriptor, SWIG_POINTER_OWN));
}
%typemap(argout, noblock=1, fragment="SWIG_FromCharPtr") (char *msg, size_t size) {
    %append_output(SWIG_FromCharPtr($1));
}
#endif
%apply size_t *value { size_t *bytes };  /* memkind_shared_reclaim's */

/* ------------------------------------------------------------------------------
 * 6. The header itself. Everything in it is read-only from target languages
 *    (MEMKIND_DEFAULT, struct members).
 * ------------------------------------------------------------------------------ */
%immutable;
%include "memkind_fixed.h"
%mutable;
