/*
 * fixed_allocator_prog.cc - a C++ program written for memkind's fixed allocator
 * (<fixed_allocator.h>, libmemkind::fixed::allocator<T>), built unchanged against
 * the installed memkind-fixed: std::vector and std::map over a static buffer and
 * over an mmap'd area. Built by tests/install/install_test.sh (pkg-config, also
 * with -fsanitize=address) and tests/packaging/c.sh (pkg-config and CMake, through
 * tests/consumer/CMakeLists.txt). Prints one line and exits 0 when every element
 * lies inside its area, 1 otherwise.
 */
#include <fixed_allocator.h>

#include <sys/mman.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

static char buffer[16 * 1024 * 1024];

template <typename T>
static bool inside(const T *p, std::size_t n, const char *area, std::size_t size)
{
    const char *c = reinterpret_cast<const char *>(p);
    return c >= area && c + n * sizeof(T) <= area + size;
}

int main()
{
    bool ok = true;

    libmemkind::fixed::allocator<int> alc(buffer, sizeof(buffer));
    std::vector<int, libmemkind::fixed::allocator<int>> vec(alc);
    for (int i = 0; i < 200000; i++) {
        vec.push_back(i);
    }
    ok = ok && inside(vec.data(), vec.size(), buffer, sizeof(buffer)) && vec[199999] == 199999;

    std::size_t size = 32 << 20;
    void *addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (addr == MAP_FAILED) {
        std::perror("mmap");
        return 1;
    }
    {
        using value = std::pair<const int, std::string>;
        libmemkind::fixed::allocator<value> map_alc(addr, size);
        std::map<int, std::string, std::less<int>, libmemkind::fixed::allocator<value>> m(map_alc);
        for (int i = 0; i < 1000; i++) {
            m[i] = std::to_string(i);
        }
        for (const auto &kv : m) {
            ok = ok && inside(&kv, 1, static_cast<char *>(addr), size);
        }
        ok = ok && m.size() == 1000 && m[999] == "999";
    } /* the map's kind is destroyed with its last allocator here */
    munmap(addr, size);

    std::printf("fixed_allocator_prog: %zu ints and 1000 map nodes in their areas: %s\n",
                vec.size(), ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
