// Frames are laid out for operator new's alignment: clang keeps 16-byte vector stores at
// 16-byte frame offsets, and a block that is only 8-aligned crashes them (movaps) or puts
// locals at misaligned addresses. Every kind of frame corio allocates (awaited, spawned,
// gathered, raced, waited for, server handlers, generators), in every size class, must
// hold 16-byte and over-aligned locals at aligned addresses across a suspension. Several
// frames of a class are alive at once, so neighbouring blocks of a slab are all checked.
#define CORIO_COUNT_FRAMES 1
#include "corio_test.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include <corio/net.hpp>

#include "helpers/net_helpers.hpp"

using namespace std::chrono_literals;
using corio::stream;
using corio::task;

namespace {

struct alignas(16) a16 {
    unsigned char c[16];
};
struct alignas(64) a64 {
    unsigned char c[64];
};
__extension__ typedef __int128 i128;
#if defined(__SSE2__)
using vec = __m128;
#else
typedef float vec __attribute__((vector_size(16)));
#endif

// An alignas(64) local in a frame gets the alignment of the block operator new returns:
// GCC 12, clang 14 and clang 16 lay the frame out from its start and call the promise's
// plain operator new, as they would ::operator new. Only where P2014 is implemented
// (clang 16 with -fcoro-aligned-allocation) does the promise's aligned operator new learn
// the frame's alignment, and then it must be honoured.
#ifdef CORIO_TEST_CORO_ALIGNED_ALLOCATION
constexpr std::size_t over_aligned = alignof(a64);
#else
constexpr std::size_t over_aligned = __STDCPP_DEFAULT_NEW_ALIGNMENT__;
#endif

// Read back through a volatile: the optimiser knows each type's alignment and would
// otherwise fold the check to true.
bool aligned_to(const void* p, std::size_t a) {
    volatile std::uintptr_t address = reinterpret_cast<std::uintptr_t>(p);
    return address % a == 0;
}

struct report {
    std::size_t checked = 0;
    std::vector<std::string> failures;

    void expect(bool ok, const std::string& what, const char* where, std::size_t pad) {
        ++checked;
        if (!ok) failures.push_back(std::string(where) + ", pad " + std::to_string(pad) + ": " + what);
    }
};

// Shifts the frame's size by N bytes; volatile, so it stays in the frame.
template <std::size_t N>
struct padding {
    volatile char c[N];
    void fill() {
        for (std::size_t i = 0; i < N; ++i) c[i] = char(i);
    }
    bool intact() const {
        for (std::size_t i = 0; i < N; ++i)
            if (c[i] != char(i)) return false;
        return true;
    }
};
template <>
struct padding<0> {
    void fill() {}
    bool intact() const { return true; }
};

vec make_vec(float base) {
    vec v = {base, base + 1, base + 2, base + 3};
    return v;
}
bool vec_is(const vec& v, float a, float b, float c, float d) {
    float f[4];
    std::memcpy(f, &v, sizeof f);
    return f[0] == a && f[1] == b && f[2] == c && f[3] == d;
}

// A small frame: one 16-byte vector and the padding, so frame sizes start low enough to
// reach the smallest class a frame can have.
constexpr std::size_t small_checks = 4;

template <std::size_t N, class... Extra>
task<void> small_frame(report& r, const char* where, Extra... extra) {
    vec v = make_vec(float(N));
    padding<N> pad;
    pad.fill();
    r.expect(aligned_to(&v, alignof(vec)), "vector, before", where, N);
    co_await corio::sleep(0ms);
    r.expect(aligned_to(&v, alignof(vec)), "vector, after", where, N);
    v = v * v;
    float n = float(N);
    r.expect(vec_is(v, n * n, (n + 1) * (n + 1), (n + 2) * (n + 2), (n + 3) * (n + 3)), "vector value", where, N);
    r.expect(pad.intact(), "padding", where, N);
    (extra.write("ok"), ...);
}

const char* const expected_parts = "GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY";

struct every_kind_locals {
    const a16& x16;
    const a64& x64;
    const long double& ld;
    const i128& wide;
    const vec& v;
    const char* const (&parts)[4];
};

constexpr std::size_t alignment_checks = 6;
void check_alignment(report& r, const every_kind_locals& l, const char* where, const char* when, std::size_t n) {
    std::string w = std::string(", ") + when;
    r.expect(aligned_to(&l.x16, alignof(a16)), "alignas(16) struct" + w, where, n);
    r.expect(aligned_to(&l.x64, over_aligned), "alignas(64) struct" + w, where, n);
    r.expect(aligned_to(&l.ld, alignof(long double)), "long double" + w, where, n);
    r.expect(aligned_to(&l.wide, alignof(i128)), "__int128" + w, where, n);
    r.expect(aligned_to(&l.v, alignof(vec)), "vector" + w, where, n);
    r.expect(aligned_to(&l.parts, alignof(const char*[4])), "array" + w, where, n);
}

constexpr std::size_t value_checks = 5;
void check_values(report& r, const every_kind_locals& l, const char* where, std::size_t n) {
    std::string joined;
    for (const char* p : l.parts) joined += p;
    r.expect(joined == expected_parts, "array contents", where, n);
    r.expect(l.x16.c[15] == 16 && l.x64.c[63] == 64, "struct contents", where, n);
    r.expect(l.ld == 2.0L, "long double value", where, n);
    r.expect(l.wide == (i128(1) << 101) + i128(n), "__int128 value", where, n);
    float f = float(n);
    r.expect(vec_is(l.v, 2 * f, 2 * f + 2, 2 * f + 4, 2 * f + 6), "vector value", where, n);
}

// Every kind of local that needs 16 bytes or more, each kept across the suspension;
// `extra` (a server handler's stream) lives in the frame as well and is told "ok".
constexpr std::size_t every_kind_checks = 2 * alignment_checks + value_checks + 1;

template <std::size_t N, class... Extra>
task<void> every_kind(report& r, const char* where, Extra... extra) {
    a16 x16{};
    x16.c[15] = 16;
    a64 x64{};
    x64.c[63] = 64;
    long double ld = 0.5L;
    i128 wide = (i128(1) << 100) + i128(N);
    vec v = make_vec(float(N));
    const char* parts[] = {"GET / HTTP/1.1\r", "\n", "Host: x\r\n\r", "\nBODY"};
    padding<N> pad;
    pad.fill();
    every_kind_locals l{x16, x64, ld, wide, v, parts};
    check_alignment(r, l, where, "before", N);
    co_await corio::sleep(0ms);
    check_alignment(r, l, where, "after", N);
    ld *= 4;
    wide += (i128(1) << 100);
    v = v + v;
    check_values(r, l, where, N);
    r.expect(pad.intact(), "padding", where, N);
    (extra.write("ok"), ...);
}

using frame_fn = task<void> (*)(report&, const char*);
using handler_fn = task<void> (*)(report&, const char*, stream);

// The two frame shapes with one padding, bare and as server handlers.
struct shapes {
    std::size_t pad;
    frame_fn small, every;
    handler_fn small_handler, every_handler;
};

// Paddings step by the allocator's 16-byte granule, so the frames fall into every size
// class once, and past the largest slab class into operator new.
constexpr std::size_t pad_step = 16;
constexpr std::size_t max_pad = 528;

template <std::size_t... Is>
std::vector<shapes> make_all_shapes(std::index_sequence<Is...>) {
    return {shapes{Is * pad_step, &small_frame<Is * pad_step>, &every_kind<Is * pad_step>,
                   &small_frame<Is * pad_step, stream>, &every_kind<Is * pad_step, stream>}...};
}
const std::vector<shapes> all_shapes = make_all_shapes(std::make_index_sequence<max_pad / pad_step + 1>());

// Three frames of each shape alive together, so neighbouring blocks of a class are used.
constexpr std::size_t copies = 3;
constexpr std::size_t checks_per_pad = copies * (small_checks + every_kind_checks);

std::vector<task<void>> frames(report& r, const shapes& s, const char* where) {
    std::vector<task<void>> v;
    for (std::size_t i = 0; i < copies; ++i) v.push_back(s.small(r, where));
    for (std::size_t i = 0; i < copies; ++i) v.push_back(s.every(r, where));
    return v;
}

task<void> awaited(report& r, const shapes& s) {
    for (auto& t : frames(r, s, "awaited task")) co_await t;
}

task<void> spawned(report& r, const shapes& s) {
    std::vector<corio::task_handle<void>> handles;
    for (auto& t : frames(r, s, "spawned task")) handles.push_back(corio::spawn(std::move(t)));
    for (auto& h : handles) co_await h;
}

task<void> gathered(report& r, const shapes& s) {
    const char* where = "gather child";
    co_await corio::gather(s.small(r, where), s.small(r, where), s.small(r, where), s.every(r, where),
                           s.every(r, where), s.every(r, where));
}

task<void> gathered_range(report& r, const shapes& s) { co_await corio::gather(frames(r, s, "gathered range")); }

// Each child races an event nobody sets, so the child wins and runs to its end.
task<void> raced(report& r, const shapes& s) {
    corio::event never;
    for (auto& t : frames(r, s, "race child")) co_await corio::race(std::move(t), never.wait());
}

// The hour never passes: the child always finishes first.
task<void> waited_for(report& r, const shapes& s) {
    for (auto& t : frames(r, s, "wait_for child")) co_await corio::wait_for(std::move(t), 1h);
}

task<std::string> read_to_eof(stream& s) {
    std::string all;
    for (;;) {
        std::string d = co_await s.read(4096);
        if (d.empty()) co_return all;
        all += d;
    }
}

// Handlers alternate between the two shapes; each says "ok" once its checks ran.
constexpr std::size_t served_checks = 2 * copies;

task<void> served(report& r, const shapes& s) {
    const char* where = "server handler";
    std::size_t k = 0;
    auto handler = [&r, &k, &s, where](stream c) {
        return (k++ % 2 == 0 ? s.small_handler : s.every_handler)(r, where, std::move(c));
    };
    auto srv = co_await corio::start_server(handler, "127.0.0.1", 0);
    auto to = srv.addresses().at(0);
    std::vector<stream> clients;
    for (std::size_t i = 0; i < 2 * copies; ++i) clients.push_back(co_await corio::open_connection(to));
    for (auto& c : clients) {
        std::string got = co_await read_to_eof(c);
        r.expect(got == "ok", "handler's reply", where, s.pad);
    }
    srv.close();
    co_await srv.wait_closed();
}

// A generator's frame, in every size class: a 16-byte vector and an alignas(16) struct
// kept across an await and a yield, several generators alive at once.
template <std::size_t N>
corio::generator<int> generated_frame(report& r, const char* where) {
    vec v = make_vec(float(N));
    a16 x16{};
    x16.c[15] = 16;
    padding<N> pad;
    pad.fill();
    r.expect(aligned_to(&v, alignof(vec)) && aligned_to(&x16, alignof(a16)), "locals, before", where, N);
    co_await corio::sleep(0ms);
    co_yield 1;
    r.expect(aligned_to(&v, alignof(vec)) && aligned_to(&x16, alignof(a16)), "locals, after", where, N);
    v = v * v;
    float n = float(N);
    r.expect(vec_is(v, n * n, (n + 1) * (n + 1), (n + 2) * (n + 2), (n + 3) * (n + 3)) && x16.c[15] == 16,
             "values", where, N);
    r.expect(pad.intact(), "padding", where, N);
}
constexpr std::size_t generated_checks = 4;

using generator_fn = corio::generator<int> (*)(report&, const char*);
template <std::size_t... Is>
std::vector<generator_fn> make_all_generators(std::index_sequence<Is...>) {
    return {&generated_frame<Is * pad_step>...};
}

task<void> every_generator_pad(report& r) {
    for (generator_fn make : make_all_generators(std::make_index_sequence<max_pad / pad_step + 1>())) {
        std::vector<corio::generator<int>> gens;
        for (std::size_t i = 0; i < copies; ++i) gens.push_back(make(r, "generator"));
        for (auto& g : gens) (void)co_await g.next(); // all suspended at their yield together
        for (auto& g : gens) (void)co_await g.next();
    }
}

using kind_fn = task<void> (*)(report&, const shapes&);

task<void> every_pad(report& r, kind_fn kind) {
    for (const shapes& s : all_shapes) co_await kind(r, s);
}

void check_every_pad(kind_fn kind, std::size_t checks_per_pad_of_kind = checks_per_pad) {
    report r;
    net_test::require_clean(net_test::run_checked([&r, kind]() { return every_pad(r, kind); }));
    std::string failures;
    for (const auto& f : r.failures) failures += f + "\n";
    INFO(failures);
    REQUIRE(r.failures.empty());
    REQUIRE(r.checked == all_shapes.size() * checks_per_pad_of_kind);
}

} // namespace

TEST_CASE("awaited tasks of every size keep their locals aligned") { check_every_pad(&awaited); }

TEST_CASE("spawned tasks of every size keep their locals aligned") { check_every_pad(&spawned); }

TEST_CASE("gather children of every size keep their locals aligned") {
    check_every_pad(&gathered);
    check_every_pad(&gathered_range);
}

TEST_CASE("race children of every size keep their locals aligned") { check_every_pad(&raced); }

TEST_CASE("wait_for children of every size keep their locals aligned") { check_every_pad(&waited_for); }

TEST_CASE("generators of every size keep their locals aligned") {
    report r;
    net_test::require_clean(net_test::run_checked([&r]() { return every_generator_pad(r); }));
    std::string failures;
    for (const auto& f : r.failures) failures += f + "\n";
    INFO(failures);
    REQUIRE(r.failures.empty());
    REQUIRE(r.checked == all_shapes.size() * copies * generated_checks);
}

TEST_CASE("server handlers of every size keep their locals aligned") {
    check_every_pad(&served, checks_per_pad + served_checks);
}

// clang -O2 copies an array of constants into the frame with 16-byte stores.
TEST_CASE("a handler writing a request in pieces, with the pieces' array kept across awaits") {
    net_test::require_clean(net_test::run_checked([]() -> task<void> {
        auto handler = [](stream s) -> task<void> {
            const char* parts[] = {"GET / HTTP/1.1\r", "\n", "Host: x\r\n\r", "\nBODY"};
            for (const char* p : parts) {
                s.write(p);
                co_await s.drain();
                co_await corio::sleep(10ms);
            }
            s.close();
            co_await s.wait_closed();
        };
        auto srv = co_await corio::start_server(handler, "127.0.0.1", 0);
        auto to = srv.addresses().at(0);
        // Several at once, so their frames take neighbouring blocks.
        std::vector<stream> clients;
        for (int i = 0; i < 4; ++i) clients.push_back(co_await corio::open_connection(to));
        for (auto& c : clients) {
            std::string got = co_await read_to_eof(c);
            REQUIRE(got == expected_parts);
        }
        srv.close();
        co_await srv.wait_closed();
    }));
}
