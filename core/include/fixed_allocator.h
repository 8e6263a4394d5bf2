/*
 * fixed_allocator.h - memkind's C++ allocator for fixed kinds, on memkind-fixed.
 *
 * libmemkind::fixed::allocator<T> is the standard-library allocator that memkind
 * declares in its <fixed_allocator.h> (fixedallocator(3)): a program written for
 * memkind's
 *
 *     libmemkind::fixed::allocator<int> alloc(addr, size);
 *     std::vector<int, libmemkind::fixed::allocator<int>> v(alloc);
 *
 * builds against this header unchanged and keeps every element inside
 * [addr, addr + size). The interface is memkind's (its constructors, allocate,
 * deallocate, construct, destroy, rebind, == and !=); the implementation is ours:
 *
 * - The constructor from an address and a size creates a fixed kind on that area
 *   with memkind_create_fixed() and throws std::runtime_error (with the library's
 *   message) when it fails: the area overlaps a live fixed kind, is too small, ...
 * - Copies, rebound copies (allocator<U> from allocator<T>) and moves share that
 *   kind through shared ownership; the kind is destroyed with memkind_destroy_kind()
 *   when its last allocator goes. The area is then the caller's again. A moved-from
 *   allocator still holds the kind (a move is a copy), so a container that was moved
 *   from stays usable, as the standard asks.
 * - Two allocators compare equal when they share one kind: memory that one
 *   allocates the other can free.
 * - allocate() throws std::bad_alloc when the kind cannot serve the request, when
 *   n * sizeof(T) overflows, and for n == 0 (memkind_malloc() of 0 bytes is NULL
 *   unless memkind_set_allow_zero_allocs() allowed it, as in memkind). Types aligned
 *   beyond what malloc guarantees are served with memkind_posix_memalign().
 *
 * C++11 or later. Link with the library (pkg-config memkind-fixed, or CMake's
 * memkind-fixed::memkind-fixed). Manual page: fixedallocator(3).
 */
#ifndef MEMKIND_FIXED_FIXED_ALLOCATOR_H
#define MEMKIND_FIXED_FIXED_ALLOCATOR_H

#include <memkind_fixed.h>

#include <cstddef>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace libmemkind
{
namespace fixed
{
namespace internal
{

/* One fixed kind, destroyed with the last allocator that shares it. */
class kind_owner
{
public:
    kind_owner(void *addr, std::size_t size) : kind_(nullptr)
    {
        int err = memkind_create_fixed(addr, size, &kind_);
        if (err != 0) {
            char msg[MEMKIND_ERROR_MESSAGE_SIZE];
            memkind_error_message(err, msg, sizeof(msg));
            throw std::runtime_error(std::string("libmemkind::fixed::allocator: ") + msg);
        }
    }
    ~kind_owner() { memkind_destroy_kind(kind_); }
    kind_owner(const kind_owner &) = delete;
    kind_owner &operator=(const kind_owner &) = delete;

    memkind_t kind() const noexcept { return kind_; }

private:
    memkind_t kind_;
};

} // namespace internal

template <typename T>
class allocator
{
public:
    using value_type = T;
    using pointer = value_type *;
    using const_pointer = const value_type *;
    using reference = value_type &;
    using const_reference = const value_type &;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    /* The kind travels with the elements it holds. */
    using propagate_on_container_copy_assignment = std::true_type;
    using propagate_on_container_move_assignment = std::true_type;
    using propagate_on_container_swap = std::true_type;

    template <class U>
    struct rebind {
        using other = allocator<U>;
    };

    /* A fixed kind on [addr, addr + size); std::runtime_error when it cannot be made. */
    explicit allocator(void *addr, std::size_t size)
        : owner_(std::make_shared<internal::kind_owner>(addr, size))
    {
    }

    allocator(const allocator &other) noexcept = default;
    /* A move shares the kind too: the source stays a working allocator. */
    allocator(allocator &&other) noexcept : owner_(other.owner_) {}
    template <typename U>
    allocator(const allocator<U> &other) noexcept : owner_(other.owner_)
    {
    }
    template <typename U>
    allocator(allocator<U> &&other) noexcept : owner_(other.owner_)
    {
    }
    allocator &operator=(const allocator &other) noexcept = default;
    allocator &operator=(allocator &&other) noexcept
    {
        owner_ = other.owner_;
        return *this;
    }
    ~allocator() = default;

    T *allocate(std::size_t n) const
    {
        if (n == 0 || n > std::numeric_limits<std::size_t>::max() / sizeof(T)) {
            throw std::bad_alloc();
        }
        void *p = nullptr;
        if (alignof(T) <= alignof(std::max_align_t)) {
            p = memkind_malloc(owner_->kind(), n * sizeof(T));
        } else if (memkind_posix_memalign(owner_->kind(), &p, alignof(T), n * sizeof(T)) != 0) {
            p = nullptr;
        }
        if (p == nullptr) {
            throw std::bad_alloc();
        }
        return static_cast<T *>(p);
    }

    void deallocate(T *p, std::size_t n) const noexcept
    {
        (void)n;
        memkind_free(owner_->kind(), p);
    }

    template <class U, class... Args>
    void construct(U *p, Args &&...args) const
    {
        ::new (static_cast<void *>(p)) U(std::forward<Args>(args)...);
    }

    void destroy(T *p) const { p->~T(); }

    template <typename U>
    friend class allocator;

    template <typename U, typename V>
    friend bool operator==(const allocator<U> &a, const allocator<V> &b) noexcept;

private:
    std::shared_ptr<internal::kind_owner> owner_;
};

/* Equal when they share one kind: each can free what the other allocated. */
template <typename U, typename V>
bool operator==(const allocator<U> &a, const allocator<V> &b) noexcept
{
    return a.owner_ == b.owner_;
}

template <typename U, typename V>
bool operator!=(const allocator<U> &a, const allocator<V> &b) noexcept
{
    return !(a == b);
}

} // namespace fixed
} // namespace libmemkind

#endif /* MEMKIND_FIXED_FIXED_ALLOCATOR_H */
