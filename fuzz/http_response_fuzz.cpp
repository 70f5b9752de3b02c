// libFuzzer target for corio::http::response_parser.
//   clang++ -g -O1 -fsanitize=fuzzer,address,undefined -std=c++20 -Iinclude \
//       fuzz/http_response_fuzz.cpp -o /tmp/http_response_fuzz &&
//   /tmp/http_response_fuzz -runs=200000 -dict=fuzz/http_response.dict fuzz/corpus/http_response
// The first byte picks options (HEAD, small limits, EOF or not) and seeds how the rest is
// cut into pieces. Beyond "no crash, no sanitizer report", it checks that any cut gives
// exactly what the whole input gives, and the parser's own promises (consumed <= input,
// body pieces are views into the input, a body never exceeds its Content-Length).
#include <corio/http/response_parser.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace corio::http;

struct outcome {
    std::vector<int> interim;
    int status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> fields;
    std::vector<std::pair<std::string, std::string>> trailers;
    std::string body;
    bool done = false;
    std::string error;
    bool operator==(const outcome&) const = default;
};

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "http_response_fuzz: invariant broken: %s\n", what);
    std::abort();
}

outcome run(std::string_view input, const std::vector<std::size_t>& cuts, bool head, bool eof,
            const parser_limits& limits) {
    response_parser p(limits);
    p.reset(head);
    outcome o;
    bool have_headers = false;
    auto handle = [&](const parse_step& s) {
        switch (s.event) {
        case parse_event::interim: o.interim.push_back(p.status()); break;
        case parse_event::headers:
            if (have_headers) fail("headers reported twice");
            have_headers = true;
            o.status = p.status();
            o.reason = p.reason();
            if (o.status < 200 || o.status > 599) fail("final status out of range");
            for (auto& f : p.headers()) o.fields.push_back(f);
            break;
        case parse_event::body:
            if (!have_headers) fail("body before headers");
            if (s.data.empty()) fail("empty body piece");
            o.body.append(s.data);
            if (auto n = p.content_length(); n && o.body.size() > *n) fail("body longer than Content-Length");
            break;
        case parse_event::done:
            if (!have_headers) fail("done before headers");
            for (auto& f : p.trailers()) o.trailers.push_back(f);
            o.done = true;
            break;
        case parse_event::need_more: break;
        }
    };
    try {
        std::size_t at = 0;
        for (std::size_t i = 0; i <= cuts.size() && !o.done; ++i) {
            std::size_t end = i < cuts.size() ? cuts[i] : input.size();
            std::string_view piece = input.substr(at, end - at);
            at = end;
            while (true) {
                auto s = p.feed(piece);
                if (s.consumed > piece.size()) fail("consumed more than given");
                if (s.event == parse_event::body &&
                    (s.data.data() < piece.data() || s.data.data() + s.data.size() > piece.data() + s.consumed))
                    fail("body piece outside the input");
                piece.remove_prefix(s.consumed);
                handle(s);
                if (s.event == parse_event::need_more) {
                    if (!piece.empty()) fail("need_more with input left");
                    break;
                }
                if (s.event == parse_event::done) {
                    auto again = p.feed(piece);
                    if (again.event != parse_event::done || again.consumed != 0) fail("feed after done");
                    break;
                }
            }
        }
        if (!o.done && eof) handle(p.feed_eof());
        if (o.done != p.done()) fail("done() disagrees with the events");
    } catch (const protocol_error& e) {
        o.error = e.what();
        if (!p.failed()) fail("threw without entering the failed state");
        try {
            p.feed("x");
            fail("a failed parser accepted more input");
        } catch (const protocol_error& again) {
            if (o.error != again.what()) fail("a failed parser changed its message");
        }
    }
    return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    std::uint8_t flags = data[0];
    std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    bool head = flags & 1;
    bool eof = !(flags & 2);
    parser_limits limits;
    if (flags & 4) { // small limits, so the fuzzer reaches every limit check
        limits.max_status_line = 40;
        limits.max_header_bytes = 120;
        limits.max_headers = 4;
        limits.max_chunk_line = 12;
        limits.max_interim = 2;
    }
    outcome whole = run(input, {}, head, eof, limits);

    std::vector<std::size_t> cuts; // deterministic cuts derived from the flags byte
    std::uint32_t state = 0x9e3779b9u ^ flags;
    for (std::size_t at = 0; at < input.size();) {
        state = state * 1664525u + 1013904223u;
        at += 1 + (state >> 24) % ((flags & 8) ? 3 : 29);
        if (at < input.size()) cuts.push_back(at);
    }
    if (!(run(input, cuts, head, eof, limits) == whole)) fail("a split input parsed differently");
    return 0;
}
