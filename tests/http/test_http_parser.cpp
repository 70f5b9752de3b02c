// The response parser, fed whole, byte by byte and in random splits: every way of
// cutting the bytes must give the same result, and every malformed input the same error.
#include "corio_test.hpp"

#include <corio/http/response_parser.hpp>

#include <functional>
#include <random>
#include <string>
#include <vector>

using corio::http::body_framing;
using corio::http::parse_event;
using corio::http::parser_limits;
using corio::http::protocol_error;
using corio::http::response_parser;

namespace {

struct parsed {
    int status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers;
    std::vector<std::pair<std::string, std::string>> trailers;
    std::vector<int> interim;
    std::string body;
    bool done = false;
    bool keep_alive = false;
    body_framing framing = body_framing::none;
    std::size_t leftover = 0;
    bool operator==(const parsed&) const = default;
};

using splitter = std::function<std::vector<std::string_view>(std::string_view)>;

std::vector<std::string_view> whole(std::string_view s) { return {s}; }
std::vector<std::string_view> bytewise(std::string_view s) {
    std::vector<std::string_view> out;
    for (std::size_t i = 0; i < s.size(); ++i) out.push_back(s.substr(i, 1));
    return out;
}
splitter random_split(unsigned seed) {
    return [seed](std::string_view s) {
        std::mt19937 rng(seed);
        std::vector<std::string_view> out;
        while (!s.empty()) {
            std::size_t n = std::uniform_int_distribution<std::size_t>(0, std::min<std::size_t>(s.size(), 17))(rng);
            out.push_back(s.substr(0, n)); // empty pieces included on purpose
            s.remove_prefix(n);
        }
        return out;
    };
}

std::vector<splitter> all_splitters() {
    std::vector<splitter> v{whole, bytewise};
    for (unsigned seed = 1; seed <= 24; ++seed) v.push_back(random_split(seed));
    return v;
}

parsed run_one(std::string_view wire, const splitter& split, bool head, bool eof, parser_limits limits) {
    response_parser p(limits);
    p.reset(head);
    parsed r;
    auto handle = [&](const corio::http::parse_step& s) {
        switch (s.event) {
        case parse_event::interim: r.interim.push_back(p.status()); break;
        case parse_event::headers:
            r.status = p.status();
            r.reason = p.reason();
            for (auto& f : p.headers()) r.headers.push_back(f);
            r.keep_alive = p.keep_alive();
            r.framing = p.framing();
            break;
        case parse_event::body:
            REQUIRE(!s.data.empty());
            r.body.append(s.data);
            break;
        case parse_event::done:
            for (auto& f : p.trailers()) r.trailers.push_back(f);
            r.done = true;
            break;
        case parse_event::need_more: break;
        }
    };
    for (std::string_view piece : split(wire)) {
        if (r.done) {
            r.leftover += piece.size();
            continue;
        }
        while (true) {
            auto s = p.feed(piece);
            REQUIRE(s.consumed <= piece.size());
            if (s.event == parse_event::body) // a view into the caller's bytes, not a copy
                REQUIRE((s.data.data() >= piece.data() && s.data.data() + s.data.size() <= piece.data() + piece.size()));
            piece.remove_prefix(s.consumed);
            handle(s);
            if (s.event == parse_event::need_more) {
                REQUIRE(piece.empty());
                break;
            }
            if (s.event == parse_event::done) {
                r.leftover += piece.size();
                break;
            }
        }
    }
    if (!r.done && eof) handle(p.feed_eof());
    return r;
}

// Parses `wire` every way and checks that every way agrees.
parsed parse(std::string_view wire, bool head = false, bool eof = true, parser_limits limits = {}) {
    parsed first = run_one(wire, whole, head, eof, limits);
    for (auto& split : all_splitters()) REQUIRE(run_one(wire, split, head, eof, limits) == first);
    return first;
}

// Every way of feeding `wire` throws a protocol_error whose message contains `what`.
void expect_error(std::string_view wire, std::string_view what, parser_limits limits = {}, bool head = false) {
    INFO("input: " << std::string(wire.substr(0, 200)));
    for (auto& split : all_splitters()) {
        try {
            run_one(wire, split, head, true, limits);
            FAIL("no protocol_error; expected: " << what);
        } catch (const protocol_error& e) {
            INFO("message: " << e.what());
            CHECK(std::string(e.what()).find(what) != std::string::npos);
        }
    }
}

} // namespace

TEST_CASE("a Content-Length response", "[http][parser]") {
    parsed r = parse("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
                     "Set-Cookie: a=1\r\nset-cookie: b=2\r\n\r\nhello");
    CHECK(r.status == 200);
    CHECK(r.reason == "OK");
    REQUIRE(r.headers.size() == 4);
    CHECK(r.headers[0] == std::pair<std::string, std::string>("Content-Type", "text/plain"));
    CHECK(r.headers[3] == std::pair<std::string, std::string>("set-cookie", "b=2"));
    CHECK(r.body == "hello");
    CHECK(r.done);
    CHECK(r.keep_alive);
    CHECK(r.framing == body_framing::length);
    CHECK(r.leftover == 0);
}

TEST_CASE("header values lose surrounding whitespace, keep inner whitespace and obs-text", "[http][parser]") {
    parsed r = parse("HTTP/1.1 200 OK\r\nA:  x  y \t\r\nB:\r\nC:caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n");
    CHECK(r.headers[0].second == "x  y");
    CHECK(r.headers[1].second == "");
    CHECK(r.headers[2].second == "caf\xc3\xa9");
    CHECK(r.body.empty());
    CHECK(r.done);
}

TEST_CASE("the parser's header list answers case-insensitive lookups", "[http][parser]") {
    response_parser p;
    p.reset();
    std::string wire = "HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\nX-A: 1\r\nx-a: 2\r\n\r\nnop";
    auto s = p.feed(wire);
    REQUIRE(s.event == parse_event::headers);
    CHECK(p.headers().get("Content-Length") == "3");
    CHECK(p.headers().get_all("X-A").size() == 2);
    CHECK(p.content_length() == 3u);
    CHECK(p.headers_done());
    CHECK(p.reason() == "Not Found");
    s = p.feed(std::string_view(wire).substr(s.consumed));
    CHECK(s.event == parse_event::body);
    CHECK(s.data == "nop");
    s = p.feed({});
    CHECK(s.event == parse_event::done);
    CHECK(p.done());
    CHECK(p.body_bytes() == 3);
}

TEST_CASE("a chunked response with extensions and trailers", "[http][parser]") {
    parsed r = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n"
                     "1;name=value;flag\r\n,\r\n"
                     "A \t;ext=\"quoted\"\r\n0123456789\r\n"
                     "0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n");
    CHECK(r.body == "hello,0123456789");
    CHECK(r.framing == body_framing::chunked);
    REQUIRE(r.trailers.size() == 2);
    CHECK(r.trailers[0] == std::pair<std::string, std::string>("X-Checksum", "abc"));
    CHECK(r.done);
    CHECK(r.keep_alive);
    CHECK(r.leftover == 0);
}

TEST_CASE("chunk sizes in either case, with leading zeros", "[http][parser]") {
    std::string big(0x1f, 'x');
    parsed r = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n0001f\r\n" + big + "\r\n1F\r\n" + big +
                     "\r\n000\r\n\r\n");
    CHECK(r.body == big + big);
    CHECK(r.trailers.empty());
}

TEST_CASE("a body delimited by the connection's close", "[http][parser]") {
    parsed r = parse("HTTP/1.1 200 OK\r\nServer: x\r\n\r\nall of this\r\nuntil the end");
    CHECK(r.body == "all of this\r\nuntil the end");
    CHECK(r.done);
    CHECK_FALSE(r.keep_alive);
    CHECK(r.framing == body_framing::until_close);
    parsed open = parse("HTTP/1.1 200 OK\r\n\r\nsome", false, /*eof=*/false);
    CHECK_FALSE(open.done);
    CHECK(open.body == "some");
    parsed empty = parse("HTTP/1.0 200 OK\r\n\r\n");
    CHECK(empty.done);
    CHECK(empty.body.empty());
}

TEST_CASE("HEAD, 204 and 304 responses have no body", "[http][parser]") {
    parsed head = parse("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", /*head=*/true, /*eof=*/false);
    CHECK(head.done);
    CHECK(head.body.empty());
    CHECK(head.keep_alive);
    parsed head_chunked = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, false);
    CHECK(head_chunked.done);
    parsed no_content = parse("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", false, false);
    CHECK(no_content.done);
    CHECK(no_content.keep_alive);
    parsed not_modified = parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", false, false);
    CHECK(not_modified.done);
    CHECK(not_modified.body.empty());
    // Whatever follows belongs to no response: the caller sees it as left over.
    parsed extra = parse("HTTP/1.1 204 No Content\r\n\r\nGARBAGE", false, false);
    CHECK(extra.done);
    CHECK(extra.leftover == 7);
}

TEST_CASE("interim 1xx responses are reported, then the final one", "[http][parser]") {
    parsed r = parse("HTTP/1.1 100 Continue\r\n\r\n"
                     "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    CHECK(r.interim == std::vector<int>{100, 103});
    CHECK(r.status == 200);
    REQUIRE(r.headers.size() == 1); // the 103's fields are not mixed into the final ones
    CHECK(r.headers[0].first == "Content-Length");
    CHECK(r.body == "ok");
}

TEST_CASE("persistence follows the version and the Connection field", "[http][parser]") {
    CHECK_FALSE(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
    CHECK(parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").keep_alive);
    CHECK_FALSE(parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keep_alive);
    CHECK_FALSE(parse("HTTP/1.1 200 OK\r\nConnection: foo, CLOSE\r\nContent-Length: 0\r\n\r\n").keep_alive);
    CHECK(parse("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keep_alive);
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing: close after.
    parsed r = parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n0\r\n\r\n");
    CHECK(r.body == "abc");
    CHECK_FALSE(r.keep_alive);
}

TEST_CASE("tolerated variations: bare LF, no reason, folded lines, repeated equal lengths", "[http][parser]") {
    parsed lf = parse("HTTP/1.1 200 OK\nContent-Length: 3\n\nabc");
    CHECK(lf.body == "abc");
    CHECK(lf.status == 200);
    parsed lf_chunked = parse("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n");
    CHECK(lf_chunked.body == "abc");
    CHECK(parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").reason.empty());
    CHECK(parse("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").reason.empty());
    CHECK(parse("HTTP/1.1 599 Weird: \tstuff\r\nContent-Length: 0\r\n\r\n").reason == "Weird: \tstuff");
    CHECK(parse("HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n").status == 200); // any HTTP/1.x
    parsed folded = parse("HTTP/1.1 200 OK\r\nX-Long: first\r\n   second\r\n\tthird\r\nContent-Length: 0\r\n\r\n");
    CHECK(folded.headers[0].second == "first second third");
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nab").body == "ab");
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab").body == "ab");
}

TEST_CASE("bytes after a complete response are left unconsumed", "[http][parser]") {
    parsed r = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabHTTP/1.1 200 OK\r\n", false, false);
    CHECK(r.body == "ab");
    CHECK(r.leftover == 17);
}

TEST_CASE("one parser reads several responses on one connection", "[http][parser]") {
    std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n"
                       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n";
    response_parser p;
    std::string_view in = wire;
    std::string bodies;
    for (bool head : {false, false, true}) {
        p.reset(head);
        while (true) {
            auto s = p.feed(in);
            in.remove_prefix(s.consumed);
            if (s.event == parse_event::body) bodies += s.data;
            if (s.event == parse_event::done) break;
            REQUIRE(s.event != parse_event::need_more);
        }
        CHECK(p.keep_alive());
    }
    CHECK(bodies == "ab");
    CHECK(in.empty());
}

TEST_CASE("a large body passes through in the caller's pieces", "[http][parser]") {
    std::string body(1 << 20, 'z');
    for (std::size_t i = 0; i < body.size(); i += 97) body[i] = static_cast<char>('a' + i % 26);
    std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    parsed r = run_one(wire, random_split(7), false, true, {});
    CHECK(r.body == body);
    std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (std::size_t i = 0; i < body.size(); i += 65536) {
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", std::min<std::size_t>(65536, body.size() - i));
        chunked += size + body.substr(i, 65536) + "\r\n";
    }
    chunked += "0\r\n\r\n";
    CHECK(run_one(chunked, whole, false, true, {}).body == body);
    CHECK(run_one(chunked, random_split(3), false, true, {}).body == body);
}

TEST_CASE("malformed status lines are rejected", "[http][parser]") {
    expect_error("HTTP/1.1 20 OK\r\n\r\n", "malformed status line");
    expect_error("HTTP/1.1 2000 OK\r\n\r\n", "malformed status line");
    expect_error("HTTP/1.1 2a0 OK\r\n\r\n", "malformed status line");
    expect_error("HTTP/1.1  200 OK\r\n\r\n", "malformed status line");
    expect_error("HTTP/1.1 200OK\r\n\r\n", "malformed status line");
    expect_error("http/1.1 200 OK\r\n\r\n", "malformed status line");
    expect_error("HTTX/1.1 200 OK\r\n\r\n", "malformed status line");
    expect_error("HTTP/1 200 OK\r\n\r\n", "malformed status line");
    expect_error("HTTP/1.1\t200 OK\r\n\r\n", "malformed status line");
    expect_error(" HTTP/1.1 200 OK\r\n\r\n", "malformed status line");
    expect_error("\r\nHTTP/1.1 200 OK\r\n\r\n", "malformed status line");
    expect_error("<html>hello</html>\n", "malformed status line"); // HTTP/0.9-style
    expect_error("HTTP/2.0 200 OK\r\n\r\n", "unsupported HTTP version 'HTTP/2.0'");
    expect_error("HTTP/0.9 200 OK\r\n\r\n", "unsupported HTTP version");
    expect_error("HTTP/1.1 099 Low\r\n\r\n", "invalid status code 99");
    expect_error("HTTP/1.1 600 High\r\n\r\n", "invalid status code 600");
    expect_error("HTTP/1.1 200 O\x01K\r\n\r\n", "invalid character in reason phrase");
    expect_error("HTTP/1.1 200 O\rK\r\n\r\n", "invalid character in reason phrase"); // bare CR
    expect_error(std::string("HTTP/1.1 200 OK\0\r\n\r\n", 21), "invalid character in reason phrase");
    parser_limits small;
    small.max_status_line = 32;
    expect_error("HTTP/1.1 200 " + std::string(40, 'x') + "\r\n\r\n", "status line too long (limit 32 bytes)",
                 small);
    // Without a newline, the limit still stops the buffering.
    expect_error("HTTP/1.1 200 " + std::string(100000, 'x'), "status line too long");
}

TEST_CASE("malformed header fields are rejected", "[http][parser]") {
    std::string sl = "HTTP/1.1 200 OK\r\n";
    expect_error(sl + "NoColonHere\r\n\r\n", "header line without a colon");
    expect_error(sl + "Foo : bar\r\n\r\n", "whitespace between header name and colon");
    expect_error(sl + "Foo\t: bar\r\n\r\n", "whitespace between header name and colon");
    expect_error(sl + "Fo o: bar\r\n\r\n", "invalid header name");
    expect_error(sl + ": bar\r\n\r\n", "invalid header name");
    expect_error(sl + "(x): bar\r\n\r\n", "invalid header name");
    expect_error(sl + "X: a\rb\r\n\r\n", "invalid character in the value of header 'X'");
    expect_error(sl + std::string("X: a\0b\r\n\r\n", 10), "invalid character in the value of header 'X'");
    expect_error(sl + "X: a\x7f\r\n\r\n", "invalid character in the value");
    expect_error(sl + " X: leading\r\n\r\n", "whitespace before the first header line");
    expect_error(sl + "X: a\r\n \x01\r\n\r\n", "invalid character in folded header value");
    parser_limits few;
    few.max_headers = 3;
    expect_error(sl + "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", "too many header fields (limit 3)", few);
    parser_limits small;
    small.max_header_bytes = 100;
    expect_error(sl + "X: " + std::string(200, 'v') + "\r\n\r\n", "header section too large (limit 100 bytes)", small);
    std::string many;
    for (int i = 0; i < 30; ++i) many += "X: 12\r\n"; // each fine, together too much
    expect_error(sl + many + "\r\n", "header section too large", small);
    std::string folds = sl + "X: a\r\n";
    for (int i = 0; i < 60; ++i) folds += " \r\n"; // folded empties are not free
    expect_error(folds + "\r\n", "header section too large", small);
    expect_error(sl + "X: " + std::string(200000, 'v'), "header section too large"); // never ends
}

TEST_CASE("invalid or conflicting Content-Length is rejected", "[http][parser]") {
    std::string sl = "HTTP/1.1 200 OK\r\n";
    expect_error(sl + "Content-Length: abc\r\n\r\n", "invalid Content-Length 'abc'");
    expect_error(sl + "Content-Length: -1\r\n\r\n", "invalid Content-Length");
    expect_error(sl + "Content-Length: +5\r\n\r\n", "invalid Content-Length");
    expect_error(sl + "Content-Length: 0x10\r\n\r\n", "invalid Content-Length");
    expect_error(sl + "Content-Length: 5 5\r\n\r\n", "invalid Content-Length");
    expect_error(sl + "Content-Length: 1.0\r\n\r\n", "invalid Content-Length");
    expect_error(sl + "Content-Length:\r\n\r\n", "empty Content-Length");
    expect_error(sl + "Content-Length: ,\r\n\r\n", "empty Content-Length");
    expect_error(sl + "Content-Length: 99999999999999999999999\r\n\r\n", "Content-Length too large");
    expect_error(sl + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "conflicting Content-Length values 5 and 6");
    expect_error(sl + "Content-Length: 5, 6\r\n\r\nhello!", "conflicting Content-Length values 5 and 6");
    // Still checked where the length frames nothing (HEAD), since it reveals a broken server.
    expect_error(sl + "Content-Length: x\r\n\r\n", "invalid Content-Length", {}, /*head=*/true);
    // The largest value that fits is fine to declare (the body is streamed, never held).
    response_parser p;
    p.reset();
    auto s = p.feed(sl + "Content-Length: 18446744073709551615\r\n\r\n");
    CHECK(s.event == parse_event::headers);
    CHECK(p.content_length() == 18446744073709551615ull);
}

TEST_CASE("Transfer-Encoding problems are rejected as RFC 9112 says", "[http][parser]") {
    std::string sl = "HTTP/1.1 200 OK\r\n";
    expect_error(sl + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
                 "both Transfer-Encoding and Content-Length");
    expect_error(sl + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                 "both Transfer-Encoding and Content-Length");
    expect_error(sl + "Transfer-Encoding: gzip\r\n\r\n", "unsupported transfer coding 'gzip'");
    expect_error(sl + "Transfer-Encoding: gzip, chunked\r\n\r\n", "unsupported transfer coding 'gzip'");
    expect_error(sl + "Transfer-Encoding: chunked, gzip\r\n\r\n", "chunked is not the final transfer coding");
    expect_error(sl + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                 "chunked is not the final transfer coding");
    expect_error(sl + "Transfer-Encoding: \r\n\r\n", "empty Transfer-Encoding");
    expect_error(sl + "Transfer-Encoding: chunked;q=1\r\n\r\n", "unsupported transfer coding");
}

TEST_CASE("bad chunks are rejected", "[http][parser]") {
    std::string h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    expect_error(h + "zz\r\n", "invalid chunk size 'zz'");
    expect_error(h + "\r\n", "invalid chunk size ''");
    expect_error(h + "-1\r\n", "invalid chunk size");
    expect_error(h + " 5\r\nhello\r\n0\r\n\r\n", "invalid chunk size");
    expect_error(h + "5x\r\nhello\r\n0\r\n\r\n", "invalid chunk size");
    expect_error(h + "0x5\r\nhello\r\n0\r\n\r\n", "invalid chunk size");
    expect_error(h + "5 5\r\nhello\r\n0\r\n\r\n", "invalid chunk size");
    expect_error(h + "10000000000000000\r\n", "chunk size overflows 64 bits");
    expect_error(h + "fffffffffffffffff\r\n", "chunk size overflows 64 bits");
    expect_error(h + "5;a=\x01\r\nhello\r\n0\r\n\r\n", "invalid character in chunk extension");
    expect_error(h + "5\r\nhelloXX\r\n0\r\n\r\n", "missing CRLF after chunk data");
    expect_error(h + "5\r\nhello\r\r\n0\r\n\r\n", "missing CRLF after chunk data");
    parser_limits small;
    small.max_chunk_line = 16;
    expect_error(h + "5;" + std::string(20, 'e') + "\r\nhello\r\n0\r\n\r\n", "chunk-size line too long (limit 16 bytes)",
                 small);
    expect_error(h + "5;" + std::string(100000, 'e'), "chunk-size line too long"); // never ends
    // Trailers have the header limits and rules.
    expect_error(h + "0\r\nBad Trailer: x\r\n\r\n", "invalid trailer name");
    expect_error(h + "0\r\nNoColon\r\n\r\n", "trailer line without a colon");
    parser_limits few;
    few.max_headers = 2;
    expect_error(h + "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", "too many trailer fields (limit 2)", few);
    parser_limits tiny;
    tiny.max_header_bytes = 64;
    expect_error(h + "0\r\nT: " + std::string(100, 't') + "\r\n\r\n", "trailer section too large", tiny);
}

TEST_CASE("unexpected and endless 1xx responses are rejected", "[http][parser]") {
    expect_error("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", "unexpected 101 Switching Protocols");
    std::string flood;
    for (int i = 0; i < 20; ++i) flood += "HTTP/1.1 100 Continue\r\n\r\n";
    expect_error(flood + "HTTP/1.1 200 OK\r\n\r\n", "too many interim (1xx) responses (limit 16)");
}

TEST_CASE("an early EOF is an error naming where it struck", "[http][parser]") {
    expect_error("", "connection closed before any response byte arrived");
    expect_error("HTTP/1.1 200", "connection closed in the middle of the response headers");
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", "connection closed in the middle of the response headers");
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", "body cut short: connection closed after 5 of 10 bytes");
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "body cut short: connection closed after 0 of 10 bytes");
    std::string h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (auto tail : {"", "5", "5\r\n", "5\r\nhel", "5\r\nhello", "5\r\nhello\r", "5\r\nhello\r\n", "5\r\nhello\r\n0\r\n",
                      "5\r\nhello\r\n0\r\nX: 1\r\n"})
        expect_error(h + tail, "body cut short");
}

TEST_CASE("a failed parser keeps failing with the same message", "[http][parser]") {
    response_parser p;
    p.reset();
    CHECK_THROWS_AS(p.feed("HTTP/1.1 abc\r\n"), protocol_error);
    CHECK(p.failed());
    try {
        p.feed("HTTP/1.1 200 OK\r\n");
        FAIL("no error");
    } catch (const protocol_error& e) {
        CHECK(std::string(e.what()) == "corio::http: malformed status line 'HTTP/1.1 abc'");
    }
    CHECK_THROWS_AS(p.feed_eof(), protocol_error);
    p.reset();
    CHECK(p.feed("HTTP/1.1 200 OK\r\n\r\n").event == parse_event::headers);
}
