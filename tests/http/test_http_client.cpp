// The HTTP client over real loopback sockets: against a corio server that misbehaves on
// purpose, and against Python's http.server (a server that is not corio).
#include "corio_test.hpp"

#include <corio/http.hpp>
#include <corio/net/connect.hpp>
#include <corio/net/server.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "helpers/net_helpers.hpp"

using namespace std::chrono_literals;
namespace http = corio::http;

// No co_await inside CHECK/REQUIRE: with GCC, Catch2 also passes the expression to
// __builtin_constant_p, and GCC 12 then runs the co_await twice. Results go through
// variables (v1, v2, ...) first.

// Named, not anonymous: the server's handler type must have linkage (-Wsubobject-linkage).
namespace http_client_test {

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// ------------------------------------------------------------------ the misbehaving server

struct server_stats {
    std::uint16_t port = 0;
    std::string other_base; // a second server, for cross-origin redirects
    int accepted = 0;
    int requests = 0;
    std::vector<std::string> seen; // "METHOD path" per request
    corio::event hang_started;     // a /hang request arrived
    corio::event hang_closed;      // ... and its client hung up
    corio::event closed_after;     // /close-after closed its connection
    corio::event idle_closed;      // a client hung up between requests
};

struct request_in {
    std::string method, path;
    std::vector<std::pair<std::string, std::string>> fields;
    std::string body;
};

std::string response_text(int code, std::string_view reason, std::string_view body, std::string_view extra = "") {
    return "HTTP/1.1 " + std::to_string(code) + " " + std::string(reason) + "\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n" + std::string(extra) + "\r\n" + std::string(body);
}

corio::task<std::optional<request_in>> read_request(corio::stream& s) {
    std::string head;
    bool eof = false;
    try {
        head = co_await s.readuntil("\r\n\r\n");
    } catch (const corio::incomplete_read_error&) {
        eof = true;
    }
    if (eof) co_return std::nullopt;
    request_in rq;
    std::string_view h = head;
    auto line_end = h.find("\r\n");
    std::string_view line = h.substr(0, line_end);
    auto sp1 = line.find(' '), sp2 = line.rfind(' ');
    rq.method = std::string(line.substr(0, sp1));
    rq.path = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
    h.remove_prefix(line_end + 2);
    std::size_t length = 0;
    while (!h.starts_with("\r\n")) {
        auto end = h.find("\r\n");
        std::string_view f = h.substr(0, end);
        auto colon = f.find(':');
        std::string name(f.substr(0, colon));
        std::string value(f.substr(colon + 2));
        if (http::detail::iequals(name, "content-length")) length = std::stoul(value);
        rq.fields.emplace_back(name, value);
        h.remove_prefix(end + 2);
    }
    if (length) rq.body = co_await s.readexactly(length);
    co_return rq;
}

// Waits until the client hangs up.
corio::task<void> until_peer_closes(corio::stream& s) {
    for (;;) {
        std::string got = co_await s.read(4096);
        if (got.empty()) co_return;
    }
}

corio::task<void> serve(corio::stream s, std::shared_ptr<server_stats> st) {
    ++st->accepted;
    int on_this_connection = 0;
    try {
        for (;;) {
            auto rq = co_await read_request(s);
            if (!rq) {
                st->idle_closed.set();
                co_return;
            }
            ++st->requests;
            ++on_this_connection;
            st->seen.push_back(rq->method + " " + rq->path);
            const std::string& p = rq->path;
            if (p == "/hello" || p == "/hello?x=1") {
                s.write(response_text(200, "OK", "hello world"));
            } else if (p == "/echo" || p.starts_with("/echo?")) {
                std::string body = rq->method + " " + p + "\n";
                for (auto& [n, v] : rq->fields) body += n + ": " + v + "\n";
                body += "\n" + rq->body;
                s.write(response_text(200, "OK", body));
            } else if (p == "/chunked") {
                s.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
                        "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Sum: 42\r\n\r\n");
            } else if (p == "/chunked-slow") {
                std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
                for (int i = 0; i < 20; ++i) wire += "a\r\n0123456789\r\n";
                wire += "0\r\n\r\n";
                for (std::size_t i = 0; i < wire.size(); i += 7) { // dribbled out in small writes
                    s.write(std::string_view(wire).substr(i, 7));
                    co_await s.drain();
                    co_await corio::sleep(1ms);
                }
            } else if (p == "/drip" || p == "/drip-body") { // a byte every 10 ms
                std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n";
                if (p == "/drip-body") {
                    s.write(head);
                    head.clear();
                }
                for (char ch : head + "dripped body") {
                    s.write(std::string_view(&ch, 1));
                    co_await s.drain();
                    co_await corio::sleep(10ms);
                }
            } else if (p == "/until-close") {
                s.write("HTTP/1.1 200 OK\r\n\r\nuntil the end");
                co_await s.drain();
                co_return;
            } else if (p == "/truncated") {
                s.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten!!");
                co_await s.drain();
                co_return;
            } else if (p == "/truncated-chunked") {
                s.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
                co_await s.drain();
                co_return;
            } else if (p == "/malformed") {
                s.write("HTTP/1.1 OK 200\r\n\r\n");
                co_await s.drain();
                co_return;
            } else if (p == "/bad-length") {
                s.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!");
            } else if (p == "/te-and-cl") {
                s.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
            } else if (p == "/huge-header") {
                s.write("HTTP/1.1 200 OK\r\nX-Big: " + std::string(100000, 'x') + "\r\n\r\n");
            } else if (p == "/close-early") {
                co_return; // read the request, then hang up without a byte
            } else if (p == "/hang") {
                st->hang_started.set();
                co_await until_peer_closes(s);
                st->hang_closed.set();
                co_return;
            } else if (p == "/hang-body") {
                s.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nten bytes!");
                co_await s.drain();
                st->hang_started.set();
                co_await until_peer_closes(s);
                st->hang_closed.set();
                co_return;
            } else if (p == "/interim") {
                s.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
                        response_text(200, "OK", "after interim"));
            } else if (p == "/no-content") {
                s.write("HTTP/1.1 204 No Content\r\n\r\n");
            } else if (p == "/not-modified") {
                s.write("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n");
            } else if (p == "/head") {
                if (rq->method == "HEAD")
                    s.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
                else
                    s.write(response_text(200, "OK", std::string(1000, 'h')));
            } else if (p.starts_with("/redirect/")) {
                int n = std::stoi(p.substr(10));
                std::string to = n > 1 ? std::to_string(n - 1) : "../hello"; // relative references
                s.write(response_text(302, "Found", "", "Location: " + to + "\r\n"));
            } else if (p == "/loop-a") {
                s.write(response_text(302, "Found", "", "Location: /loop-b\r\n"));
            } else if (p == "/loop-b") {
                s.write(response_text(301, "Moved", "", "Location: http://127.0.0.1:" + std::to_string(st->port) +
                                                            "/loop-a\r\n"));
            } else if (p.starts_with("/r/")) { // /r/CODE redirects to /echo with that code
                s.write(response_text(std::stoi(p.substr(3)), "Redirect", "moved", "Location: /echo\r\n"));
            } else if (p == "/to-hang") {
                s.write(response_text(302, "Found", "", "Location: /hang\r\n"));
            } else if (p == "/to-https") {
                s.write(response_text(302, "Found", "", "Location: https://127.0.0.1/secure\r\n"));
            } else if (p == "/to-other") {
                s.write(response_text(307, "Temporary Redirect", "", "Location: " + st->other_base + "/echo\r\n"));
            } else if (p == "/no-location") {
                s.write(response_text(302, "Found", "nowhere"));
            } else if (p == "/close-after") { // claims keep-alive, then hangs up anyway
                s.write(response_text(200, "OK", "bye"));
                co_await s.drain();
                s.close();
                st->closed_after.set();
                co_return;
            } else if (p == "/drop-second") { // the second request on a connection gets nothing
                if (on_this_connection > 1) co_return;
                s.write(response_text(200, "OK", "first"));
            } else if (p == "/slow-ok") {
                co_await corio::sleep(5ms);
                s.write(response_text(200, "OK", "slow " + std::to_string(st->requests)));
            } else if (p == "/endless") {
                s.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                std::string chunk = "10000\r\n" + std::string(0x10000, 'e') + "\r\n";
                for (;;) {
                    s.write(chunk);
                    co_await s.drain();
                }
            } else if (p == "/leftover") {
                s.write(response_text(200, "OK", "ab") + "GARBAGE");
            } else if (p == "/conn-close") {
                s.write(response_text(200, "OK", "closing", "Connection: close\r\n"));
            } else {
                s.write(response_text(404, "Not Found", "no such path"));
            }
            co_await s.drain();
        }
    } catch (const corio::cancelled_error&) {
        throw;
    } catch (const std::exception&) {
        // A client that gave up mid-response: nothing to report.
    }
}

// Not an aggregate: GCC 12 destroys a braced aggregate prvalue twice when it is passed by
// value to a coroutine inside a co_await expression (start_server(handler{st}, ...)).
struct handler {
    explicit handler(std::shared_ptr<server_stats> s) : st(std::move(s)) {}
    std::shared_ptr<server_stats> st;
    corio::task<void> operator()(corio::stream s) const { return serve(std::move(s), st); }
};

struct test_server {
    corio::server srv;
    std::shared_ptr<server_stats> st;
    std::string base;
};

corio::task<test_server> start_test_server() {
    auto st = std::make_shared<server_stats>();
    auto srv = co_await corio::start_server(handler(st), "127.0.0.1", 0);
    st->port = srv.addresses().at(0).port();
    // Member by member: GCC 12 destroys the temporaries of a braced co_return twice.
    test_server ts;
    ts.srv = std::move(srv);
    ts.st = st;
    ts.base = "http://127.0.0.1:" + std::to_string(st->port);
    co_return ts;
}

corio::task<void> stop(test_server& ts) {
    ts.srv.close();
    co_await ts.srv.wait_closed();
}

// Waits for an event the server sets, failing (not hanging) if it never comes.
corio::task<void> wait_event(corio::event& e) { co_await e.wait(); }
corio::task<void> expect_event(corio::event& e) { co_await corio::wait_for(wait_event(e), 10s); }

template <class E, class Awaitable>
corio::task<std::string> error_of(Awaitable work) {
    try {
        co_await std::move(work);
    } catch (const E& e) {
        co_return std::string(e.what());
    }
    co_return std::string("(no error)");
}

corio::task<std::string> get_text(http::client& c, std::string url) {
    auto r = co_await c.get(std::move(url));
    co_return co_await r.text();
}

// ------------------------------------------------------------------ tests on the corio server

corio::task<void> basic_requests() {
    auto ts = co_await start_test_server();
    {
        http::client c;
        auto r = co_await c.get(ts.base + "/hello");
        CHECK(r.status == 200);
        CHECK(r.reason == "OK");
        CHECK(r.ok());
        CHECK(r.headers.get("content-length") == "11");
        CHECK(r.content_length() == 11u);
        CHECK(r.url.str() == ts.base + "/hello");
        auto v1 = co_await r.text();
        CHECK(v1 == "hello world");
        CHECK(r.at_eof());
        auto v2 = co_await r.read();
        CHECK(v2 == ""); // the body was read already

        // Default headers, and the caller's override them.
        auto e = co_await c.get(ts.base + "/echo?q=a%20b");
        std::string echo = co_await e.text();
        CHECK(contains(echo, "GET /echo?q=a%20b\n"));
        CHECK(contains(echo, "Host: 127.0.0.1:" + std::to_string(ts.st->port) + "\n"));
        CHECK(contains(echo, "User-Agent: corio-http/0.1\n"));
        CHECK(contains(echo, "Connection: keep-alive\n"));
        CHECK_FALSE(contains(echo, "Content-Length"));
        // (Braced header lists are built before the co_await statement: GCC 12 cannot keep
        // an initializer_list's array alive across a suspension, "array used as initializer".)
        http::headers overrides{{"user-agent", "tester/1"}, {"X-Rep", "1"}, {"X-Rep", "2"}, {"Host", "example"}};
        auto o = co_await c.request("GET", ts.base + "/echo", overrides);
        echo = co_await o.text();
        CHECK(contains(echo, "user-agent: tester/1\n"));
        CHECK_FALSE(contains(echo, "corio-http"));
        CHECK(contains(echo, "X-Rep: 1\nX-Rep: 2\n"));
        CHECK(contains(echo, "Host: example\n"));

        http::headers form{{"Content-Type", "application/x-www-form-urlencoded"}};
        auto p = co_await c.post(ts.base + "/echo", "a=1&b=2", form);
        echo = co_await p.text();
        CHECK(contains(echo, "POST /echo\n"));
        CHECK(contains(echo, "Content-Length: 7\n"));
        CHECK(contains(echo, "Content-Type: application/x-www-form-urlencoded\n"));
        CHECK(echo.ends_with("\n\na=1&b=2"));
        auto empty_post = co_await c.post(ts.base + "/echo", "");
        auto v3 = co_await empty_post.text();
        CHECK(contains(v3, "Content-Length: 0\n"));
        auto put = co_await c.put(ts.base + "/echo", "data");
        auto v4 = co_await put.text();
        CHECK(contains(v4, "PUT /echo\n"));
        auto custom = co_await c.request("PROPFIND", ts.base + "/echo");
        auto v5 = co_await custom.text();
        CHECK(contains(v5, "PROPFIND /echo\n"));

        auto missing = co_await c.get(ts.base + "/nothing");
        CHECK(missing.status == 404);
        CHECK_FALSE(missing.ok());
        try {
            missing.raise_for_status();
            FAIL("no status_error");
        } catch (const http::status_error& err) {
            CHECK(err.status == 404);
            CHECK(contains(err.what(), "404 Not Found for " + ts.base + "/nothing"));
        }
        auto v6 = co_await missing.text();
        CHECK(v6 == "no such path");

        // Everything above went over one connection.
        CHECK(ts.st->accepted == 1);
        CHECK(c.connections_opened() == 1);
        CHECK(c.idle_connections() == 1);
    }
    co_await stop(ts);
}

corio::task<void> bad_requests() {
    auto ts = co_await start_test_server();
    http::client c;
    http::headers wrong_length{{"Content-Length", "5"}}, chunked{{"Transfer-Encoding", "chunked"}},
        right_length{{"Content-Length", "3"}};
    auto v7 = co_await error_of<std::invalid_argument>(c.post(ts.base + "/echo", "abc", wrong_length));
    CHECK(contains(v7,
                   "does not match the 3-byte body"));
    auto v8 = co_await error_of<std::invalid_argument>(c.post(ts.base + "/echo", "abc", chunked));
    CHECK(contains(v8,
                   "Transfer-Encoding cannot be set"));
    auto v9 = co_await error_of<std::invalid_argument>(c.request("GE T", ts.base + "/echo"));
    CHECK(contains(v9, "invalid request method"));
    auto v10 = co_await error_of<http::url_error>(c.get("https://127.0.0.1/"));
    CHECK(contains(v10, "TLS"));
    auto v11 = co_await error_of<http::url_error>(c.get("ftp://127.0.0.1/"));
    CHECK(contains(v11, "unsupported scheme"));
    auto ok = co_await c.post(ts.base + "/echo", "abc", right_length);
    CHECK(ok.status == 200);
    CHECK(ts.st->requests == 1); // none of the refused ones reached the server
    co_await stop(ts);
}

corio::task<void> bodies_and_framing() {
    auto ts = co_await start_test_server();
    http::client c;
    auto r = co_await c.get(ts.base + "/chunked");
    CHECK_FALSE(r.content_length().has_value());
    auto v12 = co_await r.read();
    CHECK(v12 == "hello world");
    CHECK(r.trailers().get("x-sum") == "42");

    auto slow = co_await c.get(ts.base + "/chunked-slow");
    std::string all;
    for (;;) {
        std::string piece = co_await slow.read_chunk(3);
        if (piece.empty()) break;
        CHECK(piece.size() <= 3);
        all += piece;
    }
    CHECK(all.size() == 200);
    CHECK(slow.at_eof());

    auto interim = co_await c.get(ts.base + "/interim");
    CHECK(interim.status == 200);
    auto v13 = co_await interim.text();
    CHECK(v13 == "after interim");

    auto head = co_await c.head(ts.base + "/head");
    CHECK(head.status == 200);
    CHECK(head.content_length() == 1000u);
    CHECK(head.at_eof()); // nothing to read, and the connection is already back in the pool
    auto v14 = co_await head.read();
    CHECK(v14 == "");
    auto nc = co_await c.get(ts.base + "/no-content");
    CHECK(nc.status == 204);
    auto v15 = co_await nc.read();
    CHECK(v15 == "");
    auto nm = co_await c.get(ts.base + "/not-modified");
    CHECK(nm.status == 304);
    auto v16 = co_await nm.read();
    CHECK(v16 == "");
    auto full = co_await c.get(ts.base + "/head");
    auto v17 = co_await full.read();
    CHECK((v17).size() == 1000);
    CHECK(ts.st->accepted == 1); // all of it on one connection

    auto uc = co_await c.get(ts.base + "/until-close");
    auto v18 = co_await uc.read();
    CHECK(v18 == "until the end");
    CHECK(c.idle_connections() == 0); // a body ended by close cannot leave a reusable connection

    // A response whose body was not read closes its connection instead of pooling it.
    {
        auto unread = co_await c.get(ts.base + "/hello");
        CHECK(unread.status == 200);
    }
    CHECK(c.idle_connections() == 0);
    auto closed = co_await c.get(ts.base + "/hello");
    closed.close();
    auto v19 = co_await error_of<std::logic_error>(closed.read_chunk());
    CHECK(contains(v19, "after close()"));

    // Bytes past the end of a response, or Connection: close, also keep it out of the pool.
    int before = ts.st->accepted;
    auto lo = co_await c.get(ts.base + "/leftover");
    auto v20 = co_await lo.read();
    CHECK(v20 == "ab");
    CHECK(c.idle_connections() == 0);
    auto cc = co_await c.get(ts.base + "/conn-close");
    auto v21 = co_await cc.read();
    CHECK(v21 == "closing");
    CHECK(c.idle_connections() == 0);
    auto v22 = co_await get_text(c, ts.base + "/hello");
    CHECK(v22 == "hello world");
    CHECK(ts.st->accepted == before + 3);

    // A caller asking for Connection: close gets it.
    http::headers close_it{{"Connection", "close"}};
    auto asked = co_await c.get(ts.base + "/echo", close_it);
    auto v23 = co_await asked.text();
    CHECK(contains(v23, "Connection: close\n"));
    CHECK(c.idle_connections() == 0);
    co_await stop(ts);
}

corio::task<void> broken_responses() {
    auto ts = co_await start_test_server();
    http::client c;
    auto t = co_await c.get(ts.base + "/truncated");
    auto v24 = co_await error_of<http::protocol_error>(t.read());
    CHECK(contains(v24, "body cut short: connection closed after 10 of 100 bytes"));
    auto again = co_await error_of<http::protocol_error>(t.read()); // the same error, not a silent ""
    CHECK(again == v24);
    auto tc = co_await c.get(ts.base + "/truncated-chunked");
    auto v25 = co_await error_of<http::protocol_error>(tc.read());
    CHECK(contains(v25, "body cut short"));
    auto v26 = co_await error_of<http::protocol_error>(c.get(ts.base + "/malformed"));
    CHECK(contains(v26, "malformed status line"));
    auto v27 = co_await error_of<http::protocol_error>(c.get(ts.base + "/bad-length"));
    CHECK(contains(v27,
                   "conflicting Content-Length values 5 and 6"));
    auto v28 = co_await error_of<http::protocol_error>(c.get(ts.base + "/te-and-cl"));
    CHECK(contains(v28,
                   "both Transfer-Encoding and Content-Length"));
    auto v29 = co_await error_of<http::protocol_error>(c.get(ts.base + "/huge-header"));
    CHECK(contains(v29, "header section too large"));
    auto v30 = co_await error_of<http::protocol_error>(c.get(ts.base + "/close-early"));
    CHECK(contains(v30,
                   "connection closed before any response byte arrived"));
    CHECK(c.idle_connections() == 0);

    // An endless body: read() stops at max_body_size; read_chunk() keeps memory bounded.
    http::client_options small;
    small.max_body_size = 1 << 20;
    http::client limited(small);
    auto endless = co_await limited.get(ts.base + "/endless");
    auto v31 = co_await error_of<http::body_too_large>(endless.read());
    CHECK(contains(v31, "exceeds max_body_size (1048576 bytes)"));
    auto streamed = co_await limited.get(ts.base + "/endless");
    std::size_t total = 0;
    while (total < 4 * 1024 * 1024) {
        std::string piece = co_await streamed.read_chunk();
        REQUIRE(!piece.empty());
        CHECK(piece.size() <= small.chunk_size);
        total += piece.size();
    }
    streamed.close();
    auto declared = co_await limited.get(ts.base + "/head");
    http::client_options tiny;
    tiny.max_body_size = 10;
    http::client tiny_client(tiny);
    auto big = co_await tiny_client.get(ts.base + "/head");
    auto v32 = co_await error_of<http::body_too_large>(big.read());
    CHECK(contains(v32, "max_body_size (10 bytes)"));
    auto v33 = co_await declared.read();
    CHECK((v33).size() == 1000);

    // The client is still fine after all that.
    auto v34 = co_await get_text(c, ts.base + "/hello");
    CHECK(v34 == "hello world");
    co_await stop(ts);
}

corio::task<void> redirects() {
    auto ts = co_await start_test_server();
    auto other = co_await start_test_server();
    ts.st->other_base = other.base;
    http::client c;
    auto r = co_await c.get(ts.base + "/redirect/3");
    CHECK(r.status == 200);
    auto v35 = co_await r.text();
    CHECK(v35 == "hello world");
    CHECK(r.url.str() == ts.base + "/hello");
    REQUIRE(r.history.size() == 3);
    CHECK(r.history[0] == ts.base + "/redirect/3");
    CHECK(r.history[2] == ts.base + "/redirect/1");
    CHECK(ts.st->accepted == 1); // the redirect bodies were drained, the connection reused

    // RFC 9110 method rules.
    http::headers typed{{"Content-Type", "text/plain"}};
    auto see_other = co_await c.post(ts.base + "/r/303", "payload", typed);
    std::string echo = co_await see_other.text();
    CHECK(echo.starts_with("GET /echo\n"));
    CHECK_FALSE(contains(echo, "Content-Type"));
    CHECK_FALSE(contains(echo, "payload"));
    auto moved = co_await c.post(ts.base + "/r/301", "payload");
    auto v36 = co_await moved.text();
    CHECK((v36).starts_with("GET /echo\n"));
    auto found = co_await c.post(ts.base + "/r/302", "payload");
    auto v37 = co_await found.text();
    CHECK((v37).starts_with("GET /echo\n"));
    auto temporary = co_await c.post(ts.base + "/r/307", "payload");
    echo = co_await temporary.text();
    CHECK(echo.starts_with("POST /echo\n"));
    CHECK(echo.ends_with("\n\npayload"));
    auto permanent = co_await c.request("PUT", ts.base + "/r/308", {}, "payload");
    echo = co_await permanent.text();
    CHECK(echo.starts_with("PUT /echo\n"));
    CHECK(echo.ends_with("\n\npayload"));
    auto head303 = co_await c.head(ts.base + "/r/303");
    CHECK(head303.method == "HEAD");

    // Cross-origin: credentials stay behind.
    http::headers secret{{"Authorization", "Bearer secret"}, {"X-Keep", "1"}};
    auto cross = co_await c.get(ts.base + "/to-other", secret);
    echo = co_await cross.text();
    CHECK(cross.url.str() == other.base + "/echo");
    CHECK_FALSE(contains(echo, "Bearer secret"));
    CHECK(contains(echo, "X-Keep: 1\n"));
    CHECK(contains(echo, "Host: 127.0.0.1:" + std::to_string(other.st->port) + "\n"));
    auto same = co_await c.get(ts.base + "/r/307", secret);
    auto v38 = co_await same.text();
    CHECK(contains(v38, "Authorization: Bearer secret\n"));

    // Loops end at the limit, with the chain in the error.
    http::client_options few;
    few.max_redirects = 4;
    http::client limited(few);
    try {
        co_await limited.get(ts.base + "/loop-a");
        FAIL("no too_many_redirects");
    } catch (const http::too_many_redirects& e) {
        CHECK(contains(e.what(), "too many redirects (limit 4)"));
        CHECK(e.history.size() == 6);
        CHECK(e.history[0] == ts.base + "/loop-a");
        CHECK(e.history[1] == ts.base + "/loop-b");
    }
    auto v39 = co_await error_of<http::url_error>(c.get(ts.base + "/to-https"));
    CHECK(contains(v39, "TLS"));

    // Not following: the 3xx itself comes back; a 3xx without Location is final anyway.
    http::client_options off;
    off.follow_redirects = false;
    http::client manual(off);
    auto raw = co_await manual.get(ts.base + "/redirect/1");
    CHECK(raw.status == 302);
    CHECK(raw.headers.get("location") == "../hello");
    auto nowhere = co_await c.get(ts.base + "/no-location");
    CHECK(nowhere.status == 302);
    auto v40 = co_await nowhere.text();
    CHECK(v40 == "nowhere");
    co_await stop(ts);
    co_await stop(other);
}

corio::task<void> stale_connections() {
    auto ts = co_await start_test_server();
    http::client c;
    // The server hangs up an idle connection: noticed before reuse, replaced.
    auto v41 = co_await get_text(c, ts.base + "/close-after");
    CHECK(v41 == "bye");
    co_await expect_event(ts.st->closed_after);
    auto v42 = co_await get_text(c, ts.base + "/hello");
    CHECK(v42 == "hello world");
    CHECK(ts.st->accepted == 2);

    // The server drops a request on a live-looking connection: an idempotent request is
    // retried once on a fresh connection; a POST is not.
    auto v43 = co_await get_text(c, ts.base + "/drop-second");
    CHECK(v43 == "first");
    auto v44 = co_await get_text(c, ts.base + "/drop-second");
    CHECK(v44 == "first");
    CHECK(ts.st->accepted == 4);
    http::client fresh;
    auto p = co_await fresh.post(ts.base + "/drop-second", "x");
    auto v45 = co_await p.text();
    CHECK(v45 == "first");
    auto v46 = co_await error_of<http::protocol_error>(fresh.post(ts.base + "/drop-second", "x"));
    CHECK(contains(v46,
                   "connection closed before any response byte arrived"));
    co_await stop(ts);
}

corio::task<void> concurrent_gets() {
    auto ts = co_await start_test_server();
    http::client c; // at most 10 connections per host by default
    std::vector<corio::task<std::string>> gets;
    for (int i = 0; i < 100; ++i) gets.push_back(get_text(c, ts.base + "/slow-ok"));
    auto bodies = co_await corio::gather(std::move(gets));
    REQUIRE(bodies.size() == 100);
    for (auto& b : bodies) CHECK(b.starts_with("slow "));
    CHECK(ts.st->requests == 100);
    CHECK(ts.st->accepted <= 10);
    CHECK(ts.st->accepted >= 1);
    CHECK(c.connections_opened() == static_cast<std::size_t>(ts.st->accepted));
    int after_burst = ts.st->accepted;
    for (int i = 0; i < 100; ++i) {
        auto v47 = co_await get_text(c, ts.base + "/hello");
        CHECK(v47 == "hello world");
    }
    CHECK(ts.st->accepted == after_burst); // sequential requests reuse the pool

    http::client_options one;
    one.max_connections_per_host = 1;
    http::client serial(one);
    std::vector<corio::task<std::string>> more;
    for (int i = 0; i < 20; ++i) more.push_back(get_text(serial, ts.base + "/hello"));
    auto r = co_await corio::gather(std::move(more));
    CHECK(r.size() == 20);
    CHECK(serial.connections_opened() == 1);
    co_await stop(ts);
}

corio::task<void> cancellation_and_timeouts() {
    auto ts = co_await start_test_server();
    http::client c;
    auto v48 = co_await get_text(c, ts.base + "/hello");
    CHECK(v48 == "hello world");
    REQUIRE(c.idle_connections() == 1);

    // Cancelling a request closes its connection (the server sees the hang-up).
    auto h = corio::spawn(c.get(ts.base + "/hang"));
    co_await expect_event(ts.st->hang_started);
    h.cancel();
    auto v49 = co_await error_of<corio::cancelled_error>(h);
    CHECK(contains(v49, "cancelled"));
    co_await expect_event(ts.st->hang_closed);
    CHECK(c.idle_connections() == 0);

    // wait_for around a request: same.
    ts.st->hang_closed.clear();
    auto v50 = co_await error_of<corio::timeout_error>(corio::wait_for(c.get(ts.base + "/hang"), 100ms));
    CHECK(contains(v50,
                   "timed out"));
    co_await expect_event(ts.st->hang_closed);

    // total_timeout covers the response headers and the body.
    http::client_options quick;
    quick.total_timeout = 200ms;
    http::client q(quick);
    ts.st->hang_closed.clear();
    std::string e = co_await error_of<http::request_timeout>(q.get(ts.base + "/hang"));
    CHECK(contains(e, "request to " + ts.base + "/hang timed out (total_timeout 200 ms)"));
    co_await expect_event(ts.st->hang_closed);
    ts.st->hang_closed.clear();
    auto slow_body = co_await q.get(ts.base + "/hang-body");
    CHECK(slow_body.status == 200);
    auto v51 = co_await error_of<corio::timeout_error>(slow_body.read());
    CHECK(contains(v51, "total_timeout"));
    co_await expect_event(ts.st->hang_closed);
    CHECK(q.idle_connections() == 0);

    // Cancelling a body read also closes the connection.
    ts.st->hang_closed.clear();
    auto partial = co_await c.get(ts.base + "/hang-body");
    auto reader = corio::spawn([](http::response& r) -> corio::task<std::string> { co_return co_await r.read(); }(partial));
    co_await corio::sleep(10ms);
    reader.cancel();
    auto v52 = co_await error_of<corio::cancelled_error>(reader);
    CHECK(contains(v52, "cancelled"));
    co_await expect_event(ts.st->hang_closed);

    // The client is still usable.
    auto v53 = co_await get_text(c, ts.base + "/hello");
    CHECK(v53 == "hello world");
    co_await stop(ts);
}

corio::task<void> read_timeouts() {
    auto ts = co_await start_test_server();
    http::client_options o;
    o.read_timeout = 250ms;
    http::client c(o);

    // A byte every 10 ms: no wait is long, the whole response takes longer than
    // read_timeout, and it arrives, read whole or streamed.
    auto v1 = co_await get_text(c, ts.base + "/drip");
    CHECK(v1 == "dripped body");
    auto dripping = co_await c.get(ts.base + "/drip-body");
    std::string all;
    for (;;) {
        std::string piece = co_await dripping.read_chunk();
        if (piece.empty()) break;
        all += piece;
    }
    CHECK(all == "dripped body");

    // Silence longer than read_timeout, before the status line: the connection is closed.
    std::string e = co_await error_of<http::read_timeout>(c.get(ts.base + "/hang"));
    CHECK(contains(e, "reading the response from " + ts.base + "/hang timed out (read_timeout 250 ms without a byte)"));
    co_await expect_event(ts.st->hang_closed);
    // After a redirect, the error names the URL that went silent; it is a timeout_error.
    ts.st->hang_closed.clear();
    auto v2 = co_await error_of<corio::timeout_error>(c.get(ts.base + "/to-hang"));
    CHECK(contains(v2, "from " + ts.base + "/hang timed out (read_timeout"));
    co_await expect_event(ts.st->hang_closed);

    // In the body, read whole: the error sticks to the response.
    ts.st->hang_closed.clear();
    auto whole = co_await c.get(ts.base + "/hang-body");
    CHECK(whole.status == 200);
    auto v3 = co_await error_of<http::read_timeout>(whole.read());
    CHECK(contains(v3, "read_timeout 250 ms"));
    co_await expect_event(ts.st->hang_closed);
    auto v4 = co_await error_of<http::read_timeout>(whole.read());
    CHECK(v4 == v3);
    // ... and streamed.
    ts.st->hang_closed.clear();
    auto streamed = co_await c.get(ts.base + "/hang-body");
    auto v5 = co_await streamed.read_chunk();
    CHECK(v5 == "ten bytes!");
    auto v6 = co_await error_of<http::read_timeout>(streamed.read_chunk());
    CHECK(contains(v6, "read_timeout 250 ms"));
    co_await expect_event(ts.st->hang_closed);
    CHECK(c.idle_connections() == 0);

    // The shorter limit strikes and names itself: total_timeout below read_timeout.
    http::client_options t;
    t.read_timeout = 30s;
    t.total_timeout = 200ms;
    http::client total_first(t);
    auto v7 = co_await error_of<http::request_timeout>(total_first.get(ts.base + "/hang"));
    CHECK(contains(v7, "total_timeout 200 ms"));

    auto v8 = co_await get_text(c, ts.base + "/hello");
    CHECK(v8 == "hello world");
    co_await stop(ts);
}

corio::task<void> idle_expiry() {
    auto ts = co_await start_test_server();
    http::client_options o;
    o.keepalive_timeout = 100ms;
    http::client c(o);
    auto v1 = co_await get_text(c, ts.base + "/hello");
    CHECK(v1 == "hello world");
    CHECK(c.idle_connections() == 1);
    // Nobody uses the client again: its pool closes the connection anyway.
    co_await expect_event(ts.st->idle_closed);
    CHECK(c.idle_connections() == 0);
    auto v2 = co_await get_text(c, ts.base + "/hello");
    CHECK(v2 == "hello world");
    CHECK(c.connections_opened() == 2);

    // Several at once, and a client closed with its timer armed.
    std::vector<corio::task<std::string>> gets;
    for (int i = 0; i < 4; ++i) gets.push_back(get_text(c, ts.base + "/slow-ok"));
    co_await corio::gather(std::move(gets));
    CHECK(c.idle_connections() >= 1);
    while (c.idle_connections() > 0) {
        ts.st->idle_closed.clear();
        co_await expect_event(ts.st->idle_closed);
    }
    auto v3 = co_await get_text(c, ts.base + "/hello");
    CHECK(v3 == "hello world");
    c.close();
    CHECK(c.idle_connections() == 0);
    co_await stop(ts);
}

corio::task<std::string> get_from_new_server(http::client& c) {
    auto ts = co_await start_test_server();
    auto body = co_await get_text(c, ts.base + "/hello");
    co_await stop(ts);
    co_return body;
}

// A listener whose accept queue is full: further SYNs are dropped, so connect() hangs.
struct full_listener {
    int fd = -1;
    std::uint16_t port = 0;
    std::vector<int> fillers;
    full_listener() {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd, 0) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
        for (int i = 0; i < 4; ++i) {
            int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
            fillers.push_back(c);
        }
    }
    ~full_listener() {
        for (int c : fillers) ::close(c);
        ::close(fd);
    }
};

corio::task<void> connect_failures() {
    full_listener full;
    co_await corio::sleep(50ms); // let the fillers' handshakes fill the queue
    http::client_options o;
    o.connect_timeout = 200ms;
    o.total_timeout = 30s;
    http::client c(o);
    std::string e = co_await error_of<http::connect_timeout>(c.get("http://127.0.0.1:" + std::to_string(full.port) + "/"));
    CHECK(contains(e, "connecting to 127.0.0.1:" + std::to_string(full.port) + " timed out after 200 ms"));

    // A total_timeout shorter than connect_timeout wins, and says so.
    http::client_options t;
    t.connect_timeout = 30s;
    t.total_timeout = 150ms;
    http::client c2(t);
    auto v54 = co_await error_of<http::request_timeout>(c2.get("http://127.0.0.1:" + std::to_string(full.port) + "/"));
    CHECK(contains(v54,
                   "total_timeout 150 ms"));

    // Nobody listening: the OS error, naming the address.
    std::uint16_t closed_port = net_test::closed_port();
    try {
        co_await c.get("http://127.0.0.1:" + std::to_string(closed_port) + "/");
        FAIL("connected to a closed port");
    } catch (const std::system_error& err) {
        CHECK(err.code() == std::errc::connection_refused);
        CHECK(contains(err.what(), "127.0.0.1:" + std::to_string(closed_port)));
    }
}

corio::task<void> lifetimes() {
    auto ts = co_await start_test_server();
    std::optional<http::response> kept;
    {
        http::client c;
        kept = co_await c.get(ts.base + "/chunked");
    } // the client is gone; its response still reads
    auto v55 = co_await kept->read();
    CHECK(v55 == "hello world");

    http::client c;
    c.close();
    auto v56 = co_await error_of<std::logic_error>(c.get(ts.base + "/hello"));
    CHECK(contains(v56, "closed client"));

    // Idle connections past keepalive_timeout are not reused.
    http::client_options brief;
    brief.keepalive_timeout = 1ms;
    http::client b(brief);
    auto first = co_await get_text(b, ts.base + "/hello");
    co_await corio::sleep(20ms);
    auto second = co_await get_text(b, ts.base + "/hello");
    CHECK(first == second);
    CHECK(b.connections_opened() == 2);

    // The idle pool is bounded over all hosts: the oldest idle connection goes first.
    auto other = co_await start_test_server();
    http::client_options one_idle;
    one_idle.max_idle_connections = 1;
    http::client o(one_idle);
    auto a1 = co_await get_text(o, ts.base + "/hello");
    auto a2 = co_await get_text(o, other.base + "/hello");
    CHECK(a1 == a2);
    CHECK(o.idle_connections() == 1);
    auto a3 = co_await get_text(o, other.base + "/hello"); // the one kept is the newest
    CHECK(o.connections_opened() == 2);
    CHECK(a3 == a1);
    co_await stop(other);

    // Names resolve (through the worker pool) like numeric hosts.
    http::client byname;
    auto r = co_await byname.get("http://localhost:" + std::to_string(ts.st->port) + "/hello");
    auto v57 = co_await r.text();
    CHECK(v57 == "hello world");
    co_await stop(ts);
}

} // namespace http_client_test

using namespace http_client_test;

TEST_CASE("client: requests, default and overriding headers, one kept-alive connection", "[http][client]") {
    corio::run(basic_requests());
}
TEST_CASE("client: requests refused before they are sent", "[http][client]") { corio::run(bad_requests()); }
TEST_CASE("client: chunked, interim, HEAD/204/304, until-close bodies; what keeps a connection out of the pool",
          "[http][client]") {
    corio::run(bodies_and_framing());
}
TEST_CASE("client: truncated, malformed and oversized responses", "[http][client]") { corio::run(broken_responses()); }
TEST_CASE("client: redirects, method rules, loops", "[http][client]") { corio::run(redirects()); }
TEST_CASE("client: connections the server closed are replaced; idempotent requests retried once", "[http][client]") {
    corio::run(stale_connections());
}
TEST_CASE("client: 100 concurrent GETs share a bounded pool", "[http][client]") { corio::run(concurrent_gets()); }
TEST_CASE("client: cancellation and timeouts close the connection", "[http][client]") {
    corio::run(cancellation_and_timeouts());
}
TEST_CASE("client: connect timeout and refused connections", "[http][client]") { corio::run(connect_failures()); }
TEST_CASE("client: read_timeout bounds each wait for response bytes, not the whole response", "[http][client]") {
    corio::run(read_timeouts());
}
TEST_CASE("client: idle connections past keepalive_timeout are closed by the pool", "[http][client]") {
    corio::run(idle_expiry());
}
TEST_CASE("client: a client outlives the loop its idle connections and timer were on", "[http][client]") {
    http::client_options o;
    o.keepalive_timeout = 30s;
    http::client c(o);
    CHECK(corio::run(get_from_new_server(c)) == "hello world");
    CHECK(corio::run(get_from_new_server(c)) == "hello world"); // the first loop closed the pooled one
    CHECK(c.connections_opened() == 2);
}
TEST_CASE("client: responses outlive the client; closed clients; idle expiry and bounds; host names",
          "[http][client]") {
    corio::run(lifetimes());
}

// ------------------------------------------------------------------ Python's http.server

namespace {

std::uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

std::string pseudo_random_bytes(std::size_t n) {
    std::string out(n, '\0');
    std::uint64_t x = 0x9e3779b97f4a7c15ull;
    for (std::size_t i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[i] = static_cast<char>(x);
    }
    return out;
}

std::uint64_t fnv1a(std::uint64_t h, std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

// python3 -m http.server on a free port, serving a temporary directory; killed at the end.
struct python_server {
    std::filesystem::path dir;
    std::uint16_t port = 0;
    pid_t pid = -1;
    std::string large;

    python_server() {
        char tmpl[] = "/tmp/corio_http_test_XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        std::ofstream(dir / "hello.txt") << "hello from python\n";
        std::filesystem::create_directory(dir / "sub");
        std::ofstream(dir / "sub" / "index.html") << "<p>sub</p>\n";
        large = pseudo_random_bytes(20 * 1024 * 1024);
        std::ofstream(dir / "large.bin", std::ios::binary).write(large.data(), static_cast<std::streamsize>(large.size()));
        port = free_port();
        std::string port_text = std::to_string(port), dir_text = dir.string();
        std::vector<std::string> args{"python3", "-m", "http.server", port_text, "--bind", "127.0.0.1", "--directory", dir_text};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        int rc = posix_spawnp(&pid, "python3", &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        REQUIRE(rc == 0);
    }
    ~python_server() {
        if (pid > 0) {
            ::kill(pid, SIGTERM);
            ::waitpid(pid, nullptr, 0);
        }
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::string base() const { return "http://127.0.0.1:" + std::to_string(port); }

    // Until it accepts connections (or has died, or 20 s passed).
    corio::task<void> wait_listening() {
        for (int i = 0; i < 400; ++i) {
            bool up = false;
            try {
                auto s = co_await corio::open_connection("127.0.0.1", port);
                up = true;
            } catch (const std::system_error&) {
            }
            if (up) co_return;
            REQUIRE(::waitpid(pid, nullptr, WNOHANG) == 0);
            co_await corio::sleep(50ms);
        }
        FAIL("python3 -m http.server did not start listening");
    }
};

corio::task<void> against_python(python_server& py) {
    co_await py.wait_listening();
    http::client c;
    auto r = co_await c.get(py.base() + "/hello.txt");
    CHECK(r.status == 200);
    CHECK(r.version_minor == 0); // http.server speaks HTTP/1.0 and closes after each response
    CHECK(r.headers.get("content-type").value_or("").starts_with("text/plain"));
    auto v58 = co_await r.text();
    CHECK(v58 == "hello from python\n");
    CHECK(c.idle_connections() == 0);

    auto q = co_await c.get(py.base() + "/hello.txt?x=1&y=a%20b");
    auto v59 = co_await q.text();
    CHECK(v59 == "hello from python\n");

    // 20 MiB in bounded pieces, checked against the file.
    auto big = co_await c.get(py.base() + "/large.bin");
    CHECK(big.content_length() == py.large.size());
    std::uint64_t h = 0xcbf29ce484222325ull;
    std::size_t total = 0, largest = 0;
    for (;;) {
        std::string piece = co_await big.read_chunk();
        if (piece.empty()) break;
        largest = std::max(largest, piece.size());
        total += piece.size();
        h = fnv1a(h, piece);
    }
    CHECK(total == py.large.size());
    CHECK(h == fnv1a(0xcbf29ce484222325ull, py.large));
    CHECK(largest <= c.options().chunk_size);
    auto whole = co_await c.get(py.base() + "/large.bin");
    auto v60 = co_await whole.read();
    CHECK((v60) == py.large);

    auto head = co_await c.head(py.base() + "/large.bin");
    CHECK(head.status == 200);
    CHECK(head.content_length() == py.large.size());
    auto v61 = co_await head.read();
    CHECK(v61 == "");

    auto missing = co_await c.get(py.base() + "/missing.txt");
    CHECK(missing.status == 404);
    CHECK_THROWS_AS(missing.raise_for_status(), http::status_error);

    // http.server redirects a directory without its slash: a real 301 to follow.
    auto dir = co_await c.get(py.base() + "/sub");
    CHECK(dir.status == 200);
    CHECK(dir.url.path == "/sub/");
    CHECK(dir.history.size() == 1);
    auto v62 = co_await dir.text();
    CHECK(v62 == "<p>sub</p>\n");

    std::vector<corio::task<std::string>> gets;
    for (int i = 0; i < 8; ++i) gets.push_back(get_text(c, py.base() + "/hello.txt"));
    auto bodies = co_await corio::gather(std::move(gets));
    for (auto& body : bodies) CHECK(body == "hello from python\n");
}

} // namespace

TEST_CASE("client: against python3 -m http.server", "[http][client][python]") {
    python_server py;
    corio::run(against_python(py));
}
