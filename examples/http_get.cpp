// The aiohttp snippet in corio: fetch every URL concurrently with gather, then print, per
// URL, the status, the body size and the time taken (--body prints the bodies too).
//   http_get [--body] URL [URL...]
// Exits with 1 if any fetch failed (connection refused, timeout, malformed response...).
#include "cli.hpp"

#include <corio/corio.hpp>
#include <corio/http.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

struct fetched {
    std::string url;
    int status = 0;
    std::size_t size = 0;
    double ms = 0;
    std::string body;  // kept only with --body
    std::string error; // empty on success
};

corio::task<fetched> fetch(corio::http::client& http, std::string url, bool keep_body) {
    fetched f;
    f.url = url;
    auto start = std::chrono::steady_clock::now();
    try {
        auto resp = co_await http.get(url);
        f.status = resp.status;
        for (;;) { // chunk by chunk: a large download never sits in memory unless asked for
            std::string piece = co_await resp.read_chunk();
            if (piece.empty()) break;
            f.size += piece.size();
            if (keep_body) f.body += piece;
        }
    } catch (const std::exception& e) {
        f.error = e.what();
    }
    f.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    co_return f;
}

corio::task<int> main_task(std::vector<std::string> urls, bool print_body) {
    corio::http::client http;
    std::vector<corio::task<fetched>> fetches;
    for (auto& url : urls) fetches.push_back(fetch(http, url, print_body));
    std::vector<fetched> results = co_await corio::gather(std::move(fetches));
    int failed = 0;
    for (auto& f : results) {
        if (!f.error.empty()) {
            ++failed;
            std::printf("ERR %10s  %9.1f ms  %s: %s\n", "-", f.ms, f.url.c_str(), f.error.c_str());
            continue;
        }
        std::printf("%3d %10zu bytes  %9.1f ms  %s\n", f.status, f.size, f.ms, f.url.c_str());
        if (print_body) {
            std::fwrite(f.body.data(), 1, f.body.size(), stdout);
            if (!f.body.empty() && f.body.back() != '\n') std::fputc('\n', stdout);
        }
    }
    co_return failed ? 1 : 0;
}

int main(int argc, char** argv) {
    bool print_body = false;
    std::vector<std::string> urls;
    cli::args args(argc, argv, "[--body] URL [URL...]");
    while (const char* a = args.next()) {
        if (!std::strcmp(a, "--body"))
            print_body = true;
        else if (a[0] == '-')
            args.unknown(a);
        else
            urls.emplace_back(a);
    }
    if (urls.empty()) args.fail("no URL given");
    return corio::run(main_task(std::move(urls), print_body));
}
