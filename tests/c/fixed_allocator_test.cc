/* fixed_allocator_test.cc - libmemkind::fixed::allocator<T> (<fixed_allocator.h>) with the
 * standard containers: every element inside the area, rebinding, copies and moves that
 * share the kind, equality, the kind destroyed with its last copy, errors as exceptions.
 * Runs under ASan + UBSan and TSan as well (tests/c/BUILD). */
#include <fixed_allocator.h>

#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <new>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "check.h"

namespace
{

const std::size_t AREA = 32 << 20;

template <typename T>
using fixed_alloc = libmemkind::fixed::allocator<T>;

struct area {
    char *base;
    std::size_t size;
    explicit area(std::size_t n) : base(nullptr), size(n)
    {
        void *p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        REQUIRE(p != MAP_FAILED);
        base = static_cast<char *>(p);
    }
    ~area() { munmap(base, size); }
    bool holds(const void *p, std::size_t n = 1) const
    {
        auto a = reinterpret_cast<std::uintptr_t>(p), b = reinterpret_cast<std::uintptr_t>(base);
        return a >= b && a + n <= b + size;
    }
};

/* Whether a fixed kind is alive on the area: a second one cannot be created over it. */
bool kind_alive_on(const area &a)
{
    memkind_t probe = nullptr;
    int err = memkind_create_fixed(a.base, a.size, &probe);
    if (err == 0) {
        memkind_destroy_kind(probe);
        return false;
    }
    return err == MEMKIND_ERROR_REGION_OVERLAP;
}

/* memkind's own example, as a memkind program writes it. */
void test_vector(const area &a)
{
    {
        libmemkind::fixed::allocator<int> alc(a.base, a.size);
        std::vector<int, libmemkind::fixed::allocator<int>> vec(alc);
        for (int i = 0; i < 100000; i++) {
            vec.push_back(i);
        }
        CHECK(a.holds(vec.data(), vec.size() * sizeof(int)));
        long long sum = 0;
        for (int v : vec) {
            sum += v;
        }
        CHECK_EQ(sum, 100000LL * 99999 / 2);
        vec.shrink_to_fit();
        CHECK(a.holds(vec.data(), vec.size() * sizeof(int)));
        CHECK(kind_alive_on(a));
    }
    /* The allocator and the vector's copy are gone: so is the kind. */
    CHECK(!kind_alive_on(a));
}

void test_map_and_string(const area &a)
{
    using fstring = std::basic_string<char, std::char_traits<char>, fixed_alloc<char>>;
    fixed_alloc<char> chars(a.base, a.size);
    /* std::map rebinds the allocator to its node type. */
    using map_alloc = fixed_alloc<std::pair<const int, fstring>>;
    std::map<int, fstring, std::less<int>, map_alloc> m{map_alloc(chars)};
    for (int i = 0; i < 2000; i++) {
        /* Longer than the small-string buffer: the characters come from the kind. */
        m.emplace(i, fstring(64, static_cast<char>('a' + i % 26), chars));
    }
    bool inside = true;
    for (const auto &kv : m) {
        inside = inside && a.holds(&kv) && a.holds(kv.second.data(), kv.second.size());
    }
    CHECK(inside);
    CHECK_EQ(m.at(27)[63], 'b');
    m.erase(m.begin(), m.find(1000));
    CHECK_EQ(m.size(), 1000);

    fstring s(chars);
    for (int i = 0; i < 10000; i++) {
        s += "fixed ";
    }
    CHECK(a.holds(s.data(), s.size()));
    CHECK_EQ(s.size(), 60000);
    CHECK(s.get_allocator() == chars);
}

void test_unordered_map(const area &a)
{
    using value = std::pair<const std::uint64_t, std::uint64_t>;
    fixed_alloc<value> alc(a.base, a.size);
    std::unordered_map<std::uint64_t, std::uint64_t, std::hash<std::uint64_t>,
                       std::equal_to<std::uint64_t>, fixed_alloc<value>>
        um(16, std::hash<std::uint64_t>(), std::equal_to<std::uint64_t>(), alc);
    for (std::uint64_t i = 0; i < 50000; i++) {
        um[i] = i * i;
    }
    bool inside = true;
    for (const auto &kv : um) {
        inside = inside && a.holds(&kv);
    }
    CHECK(inside);
    CHECK_EQ(um.at(1234), 1234ULL * 1234);
    um.clear();
    um.rehash(0);
    CHECK(um.get_allocator() == alc);
}

void test_copies_rebind_equality(const area &a, const area &b)
{
    fixed_alloc<int> x(a.base, a.size);
    fixed_alloc<int> y(b.base, b.size);
    fixed_alloc<int> x2 = x;
    fixed_alloc<double> xd(x);
    fixed_alloc<int>::rebind<long>::other xl(x);
    CHECK(x == x2);
    CHECK(x == xd);
    CHECK(xd == xl);
    CHECK(x != y);
    CHECK(!(xd == y));

    /* What one copy allocates another frees. */
    int *p = x.allocate(1000);
    CHECK(a.holds(p, 1000 * sizeof(int)));
    x2.deallocate(p, 1000);
    double *d = xd.allocate(10);
    CHECK(a.holds(d, 10 * sizeof(double)));
    fixed_alloc<double>(x2).deallocate(d, 10);
    int *q = y.allocate(10);
    CHECK(b.holds(q, 10 * sizeof(int)));
    y.deallocate(q, 10);

    /* A move shares: both still allocate from the same kind. */
    fixed_alloc<int> moved(std::move(x2));
    CHECK(moved == x);
    int *r = x2.allocate(4);
    CHECK(a.holds(r, 4 * sizeof(int)));
    moved.deallocate(r, 4);

    /* Move-assigned containers: the allocator goes with the elements. */
    std::vector<int, fixed_alloc<int>> v1(x), v2(y);
    v1.assign(1000, 7);
    v2 = std::move(v1);
    CHECK(v2.get_allocator() == x);
    CHECK(a.holds(v2.data(), v2.size() * sizeof(int)));
    v1.push_back(1); /* the moved-from vector still works */
    CHECK(a.holds(v1.data()));
}

void test_lifetime(const area &a)
{
    std::vector<int, fixed_alloc<int>> *v;
    {
        fixed_alloc<int> alc(a.base, a.size);
        v = new std::vector<int, fixed_alloc<int>>(1000, 3, alc);
    }
    /* The first allocator is gone; the vector's copy keeps the kind alive. */
    CHECK(kind_alive_on(a));
    CHECK(a.holds(v->data(), v->size() * sizeof(int)));
    CHECK_EQ((*v)[999], 3);
    delete v;
    CHECK(!kind_alive_on(a));
    /* The area is the caller's again: a new allocator makes a new kind on it. */
    fixed_alloc<int> again(a.base, a.size);
    int *p = again.allocate(1);
    CHECK(a.holds(p, sizeof(int)));
    again.deallocate(p, 1);
}

void test_errors(const area &a)
{
    bool threw = false;
    try {
        fixed_alloc<int> bad(nullptr, 1 << 20);
    } catch (const std::runtime_error &e) {
        threw = std::string(e.what()).find("libmemkind::fixed::allocator") == 0;
    }
    CHECK(threw);

    fixed_alloc<int> alc(a.base, a.size);
    threw = false;
    try {
        fixed_alloc<int> overlapping(a.base + 4096, 1 << 20);
    } catch (const std::runtime_error &) {
        threw = true;
    }
    CHECK(threw);

    threw = false;
    try {
        (void)alc.allocate(a.size); /* 4 * size bytes: more than the area */
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);
    threw = false;
    try {
        (void)alc.allocate(static_cast<std::size_t>(-1) / 2); /* n * sizeof(int) overflows */
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);
    threw = false;
    try {
        (void)alc.allocate(0);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);

    /* Over-aligned types keep their alignment. */
    struct alignas(256) wide {
        char bytes[256];
    };
    fixed_alloc<wide> w(alc);
    wide *p = w.allocate(3);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % 256 == 0);
    CHECK(a.holds(p, 3 * sizeof(wide)));
    w.deallocate(p, 3);
}

} // namespace

int main()
{
    area a(AREA), b(AREA);
    test_vector(a);
    test_map_and_string(a);
    CHECK(!kind_alive_on(a));
    test_unordered_map(a);
    test_copies_rebind_equality(a, b);
    test_lifetime(a);
    test_errors(a);
    CHECK(!kind_alive_on(a));
    CHECK(!kind_alive_on(b));
    return check_done("fixed_allocator_test");
}
