// libFuzzer target for corio::http::url: parse, resolve and percent-coding must never
// crash, and what they accept must be stable (a parsed URL parses back to itself).
#include <corio/http/url.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace corio::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto check = [](bool ok, const char* what) {
        if (!ok) {
            std::fprintf(stderr, "http_url_fuzz: invariant broken: %s\n", what);
            std::abort();
        }
    };
    if (percent_decode(percent_encode(text, "")) != text) check(false, "percent round trip");
    try {
        url u = url::parse(text);
        check(url::parse(u.str()) == u, "parse(str()) != itself");
        check(!u.path.empty() && u.path[0] == '/', "path must start with '/'");
        for (char c : u.target()) check(static_cast<unsigned char>(c) > 0x20 && c != 0x7f, "unsafe target byte");
        url base = url::parse("http://a/b/c/d;p?q");
        url r = base.resolve(text);
        check(url::parse(r.str()) == r, "resolve result unstable");
    } catch (const url_error&) {
    }
    return 0;
}
