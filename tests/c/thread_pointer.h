/*
 * thread_pointer.h - the calling thread's thread pointer, as the library reads it
 * for its thread table and a kind's one thread (core/src/internal.h,
 * mkf_thread_pointer), for tests that make threads share or reuse one. 0 where
 * the library has no thread pointer either.
 */
#ifndef MKF_TEST_THREAD_POINTER_H
#define MKF_TEST_THREAD_POINTER_H

#include <stdint.h>

static inline uintptr_t test_thread_pointer(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    uintptr_t tp;
    __asm__("mov %%fs:0, %0" : "=r"(tp));
    return tp;
#elif defined(__aarch64__) && defined(__GNUC__)
    return (uintptr_t)__builtin_thread_pointer();
#else
    return 0;
#endif
}

#endif
