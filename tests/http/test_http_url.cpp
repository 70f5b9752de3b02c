// URLs, percent-encoding and header lists: the pure parts of the HTTP client.
#include "corio_test.hpp"

#include <corio/http/headers.hpp>
#include <corio/http/url.hpp>

#include <string>

using corio::http::host_kind;
using corio::http::url;
using corio::http::url_error;

namespace {

std::string error_of(std::string_view text) {
    try {
        url::parse(text);
    } catch (const url_error& e) {
        return e.what();
    }
    return "(no error)";
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

} // namespace

TEST_CASE("a plain URL gets default port and path", "[http][url]") {
    url u = url::parse("http://example.com");
    CHECK(u.scheme == "http");
    CHECK(u.host == "example.com");
    CHECK(u.kind == host_kind::name);
    CHECK(u.port == 80);
    CHECK(u.path == "/");
    CHECK(u.query.empty());
    CHECK(u.target() == "/");
    CHECK(u.authority() == "example.com");
    CHECK(u.str() == "http://example.com/");
}

TEST_CASE("scheme and host are case-insensitive; port, path and query are kept", "[http][url]") {
    url u = url::parse("  HTTP://Example.COM:8080/a/B?x=1&Y=2#frag \n");
    CHECK(u.host == "example.com");
    CHECK(u.port == 8080);
    CHECK(u.path == "/a/B");
    CHECK(u.query == "x=1&Y=2");
    CHECK(u.target() == "/a/B?x=1&Y=2");
    CHECK(u.authority() == "example.com:8080");
    CHECK(u.str() == "http://example.com:8080/a/B?x=1&Y=2");
    CHECK(url::parse("http://h?q=1").target() == "/?q=1");
    CHECK(url::parse("http://h#f").target() == "/");
    CHECK(url::parse("http://h:/x").port == 80); // an empty port means the default
    CHECK(url::parse("http://h:65535/").port == 65535);
    CHECK(url::parse("http://my_host-1.local./").host == "my_host-1.local.");
}

TEST_CASE("IPv4 hosts", "[http][url]") {
    url u = url::parse("http://127.0.0.1:9000/x");
    CHECK(u.kind == host_kind::ipv4);
    CHECK(u.host == "127.0.0.1");
    CHECK(u.authority() == "127.0.0.1:9000");
    CHECK(url::parse("http://255.255.255.255/").kind == host_kind::ipv4);
    CHECK(url::parse("http://0.0.0.0/").kind == host_kind::ipv4);
    for (auto bad : {"http://256.1.1.1/", "http://1.2.3/", "http://1.2.3.4.5/", "http://01.2.3.4/",
                     "http://1..2.3/", "http://1.2.3.4444/", "http://example.123/"})
        CHECK(contains(error_of(bad), "invalid IPv4 address"));
}

TEST_CASE("bracketed IPv6 hosts", "[http][url]") {
    url u = url::parse("http://[::1]:8080/x");
    CHECK(u.kind == host_kind::ipv6);
    CHECK(u.host == "::1");
    CHECK(u.port == 8080);
    CHECK(u.authority() == "[::1]:8080");
    CHECK(u.str() == "http://[::1]:8080/x");
    CHECK(url::parse("http://[::1]/").authority() == "[::1]");
    CHECK(url::parse("http://[2001:DB8::1]/").host == "2001:db8::1");
    CHECK(url::parse("http://[::]/").host == "::");
    CHECK(url::parse("http://[1:2:3:4:5:6:7:8]/").kind == host_kind::ipv6);
    CHECK(url::parse("http://[::ffff:192.0.2.1]/").kind == host_kind::ipv6);
    CHECK(url::parse("http://[1::]/").kind == host_kind::ipv6);
    CHECK(url::parse("http://[1:2:3:4:5:6::8]/").kind == host_kind::ipv6);
    for (auto bad : {"http://[1:2:3:4:5:6:7:8:9]/", "http://[:::1]/", "http://[1::2::3]/", "http://[12345::]/",
                     "http://[1:2:3:4:5:6:7]/", "http://[:1::]/", "http://[1:]/", "http://[]/",
                     "http://[g::1]/", "http://[::1.2.3]/", "http://[1:2:3:4:5:6:7:1.2.3.4]/"})
        CHECK(contains(error_of(bad), "invalid IPv6 address"));
    CHECK(contains(error_of("http://[::1/"), "unterminated '['"));
    CHECK(contains(error_of("http://[::1]x/"), "after ']'"));
    CHECK(contains(error_of("http://[fe80::1%25eth0]/"), "zone identifiers are not supported"));
}

TEST_CASE("https is refused with a clear message", "[http][url]") {
    std::string e = error_of("https://example.com/");
    CHECK(contains(e, "https:// URLs are not supported"));
    CHECK(contains(e, "TLS"));
    CHECK(contains(error_of("HTTPS://example.com/"), "TLS"));
}

TEST_CASE("bad URLs are rejected with a message naming the problem", "[http][url]") {
    CHECK(contains(error_of("ftp://example.com/"), "unsupported scheme 'ftp'"));
    CHECK(contains(error_of("example.com/path"), "not an absolute http:// URL"));
    CHECK(contains(error_of("localhost:8080/x"), "not an absolute http:// URL"));
    CHECK(contains(error_of("http:/x"), "not an absolute http:// URL"));
    CHECK(contains(error_of(""), "not an absolute http:// URL"));
    CHECK(contains(error_of("http:///path"), "missing host"));
    CHECK(contains(error_of("http://:80/"), "missing host"));
    CHECK(contains(error_of("http://h:0/"), "port out of range"));
    CHECK(contains(error_of("http://h:65536/"), "port out of range"));
    CHECK(contains(error_of("http://h:99999999999999999999/"), "invalid port"));
    CHECK(contains(error_of("http://h:8a/"), "invalid port"));
    CHECK(contains(error_of("http://h:-1/"), "invalid port"));
    CHECK(contains(error_of("http://user:pw@h/"), "credentials"));
    CHECK(contains(error_of("http://h/a\r\nX: y"), "control character"));
    CHECK(contains(error_of("http://h/\x7f"), "control character"));
    CHECK(contains(error_of("http://ex ample.com/"), "invalid character in host"));
    CHECK(contains(error_of("http://b\xc3\xbcro.de/"), "non-ASCII host"));
}

TEST_CASE("paths and queries are percent-encoded for the wire", "[http][url]") {
    CHECK(url::parse("http://h/a b").path == "/a%20b");
    CHECK(url::parse("http://h/caf\xc3\xa9").path == "/caf%C3%A9");
    CHECK(url::parse("http://h/a%2Fb").path == "/a%2Fb");  // valid escapes stay as given
    CHECK(url::parse("http://h/100%").path == "/100%25");  // a stray '%' is escaped
    CHECK(url::parse("http://h/%zz").path == "/%25zz");
    CHECK(url::parse("http://h/p?q=a b&r=\"x\"").query == "q=a%20b&r=%22x%22");
    CHECK(url::parse("http://h/p?a=/?:@").query == "a=/?:@");
    CHECK(url::parse("http://h/a/<b>").path == "/a/%3Cb%3E");
    CHECK(url::parse("http://h/a/b/../c/./d").path == "/a/c/d");
    CHECK(url::parse("http://h/../a").path == "/a");
    CHECK(url::parse("http://h/a/..").path == "/");
}

TEST_CASE("percent_encode and percent_decode", "[http][url]") {
    using corio::http::percent_decode;
    using corio::http::percent_encode;
    CHECK(percent_encode("a b/c?d=e&f") == "a%20b/c%3Fd%3De%26f");
    CHECK(percent_encode("a/b", "") == "a%2Fb");
    CHECK(percent_encode("~-._AZaz09") == "~-._AZaz09");
    CHECK(percent_encode("100%", "%") == "100%25"); // '%' is never left bare
    CHECK(percent_encode("\xff\x00") == std::string("%FF"));
    CHECK(percent_encode(std::string_view("\xff\x00", 2)) == "%FF%00");
    CHECK(percent_decode("%41%42+c%2f") == "AB+c/");
    CHECK(percent_decode("%41%42+c", true) == "AB c");
    std::string all;
    for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
    CHECK(percent_decode(percent_encode(all, "")) == all);
    CHECK(percent_decode(percent_encode(all)) == all);
    for (auto bad : {"%", "%4", "%zz", "a%4g", "%%41"}) {
        CHECK_THROWS_AS(percent_decode(bad), url_error);
    }
    try {
        percent_decode("ab%4");
        FAIL("no error");
    } catch (const url_error& e) {
        CHECK(contains(e.what(), "invalid percent-encoding at offset 2"));
    }
}

TEST_CASE("references resolve as RFC 3986 section 5.4 says", "[http][url]") {
    url base = url::parse("http://a/b/c/d;p?q");
    auto r = [&](std::string_view ref) { return base.resolve(ref).str(); };
    // 5.4.1 normal examples (the http ones).
    CHECK(r("g") == "http://a/b/c/g");
    CHECK(r("./g") == "http://a/b/c/g");
    CHECK(r("g/") == "http://a/b/c/g/");
    CHECK(r("/g") == "http://a/g");
    CHECK(r("//g") == "http://g/");
    CHECK(r("?y") == "http://a/b/c/d;p?y");
    CHECK(r("g?y") == "http://a/b/c/g?y");
    CHECK(r("#s") == "http://a/b/c/d;p?q");
    CHECK(r("g#s") == "http://a/b/c/g");
    CHECK(r("g?y#s") == "http://a/b/c/g?y");
    CHECK(r(";x") == "http://a/b/c/;x");
    CHECK(r("g;x") == "http://a/b/c/g;x");
    CHECK(r("g;x?y#s") == "http://a/b/c/g;x?y");
    CHECK(r("") == "http://a/b/c/d;p?q");
    CHECK(r(".") == "http://a/b/c/");
    CHECK(r("./") == "http://a/b/c/");
    CHECK(r("..") == "http://a/b/");
    CHECK(r("../") == "http://a/b/");
    CHECK(r("../g") == "http://a/b/g");
    CHECK(r("../..") == "http://a/");
    CHECK(r("../../") == "http://a/");
    CHECK(r("../../g") == "http://a/g");
    // 5.4.2 abnormal examples.
    CHECK(r("../../../g") == "http://a/g");
    CHECK(r("../../../../g") == "http://a/g");
    CHECK(r("/./g") == "http://a/g");
    CHECK(r("/../g") == "http://a/g");
    CHECK(r("g.") == "http://a/b/c/g.");
    CHECK(r(".g") == "http://a/b/c/.g");
    CHECK(r("g..") == "http://a/b/c/g..");
    CHECK(r("..g") == "http://a/b/c/..g");
    CHECK(r("./../g") == "http://a/b/g");
    CHECK(r("./g/.") == "http://a/b/c/g/");
    CHECK(r("g/./h") == "http://a/b/c/g/h");
    CHECK(r("g/../h") == "http://a/b/c/h");
    CHECK(r("g;x=1/./y") == "http://a/b/c/g;x=1/y");
    CHECK(r("g;x=1/../y") == "http://a/b/c/y");
    CHECK(r("g?y/./x") == "http://a/b/c/g?y/./x");
    CHECK(r("g?y/../x") == "http://a/b/c/g?y/../x");
    CHECK(r("g#s/./x") == "http://a/b/c/g");
    CHECK(r("g#s/../x") == "http://a/b/c/g");
    // Absolute references replace everything, and still refuse https.
    CHECK(r("http://other:81/x?y") == "http://other:81/x?y");
    CHECK(r("HTTP://Other/") == "http://other/");
    CHECK_THROWS_AS(r("https://a/"), url_error);
    CHECK_THROWS_AS(r("g:h"), url_error);
    CHECK(r("new path") == "http://a/b/c/new%20path");
}

TEST_CASE("header lists: case-insensitive lookup, repeats and order kept", "[http][headers]") {
    corio::http::headers h{{"Content-Type", "text/plain"}, {"Set-Cookie", "a=1"}, {"X-One", "1"}};
    h.add("set-cookie", "b=2");
    CHECK(h.size() == 4);
    CHECK(h.get("content-type") == "text/plain");
    CHECK(h.get("CONTENT-TYPE") == "text/plain");
    CHECK_FALSE(h.get("missing").has_value());
    CHECK(h.get("missing", "dflt") == "dflt");
    CHECK(h.count("SET-COOKIE") == 2);
    auto cookies = h.get_all("Set-Cookie");
    REQUIRE(cookies.size() == 2);
    CHECK(cookies[0] == "a=1");
    CHECK(cookies[1] == "b=2");
    CHECK(h[0].first == "Content-Type");
    CHECK(h[3].first == "set-cookie"); // the spelling given is kept
    h.set("SET-COOKIE", "c=3");        // replaces both, at the first one's place
    CHECK(h.count("set-cookie") == 1);
    CHECK(h[1].second == "c=3");
    h.set("X-New", "  padded\t");
    CHECK(h.get("x-new") == "padded");
    CHECK(h.erase("x-one") == 1);
    CHECK_FALSE(h.contains("X-One"));
    h.add("Connection", "keep-alive, Upgrade");
    CHECK(h.has_token("connection", "upgrade"));
    CHECK_FALSE(h.has_token("connection", "close"));
}

TEST_CASE("header lists refuse names and values that would inject fields", "[http][headers]") {
    corio::http::headers h;
    CHECK_THROWS_AS(h.add("Bad Name", "x"), std::invalid_argument);
    CHECK_THROWS_AS(h.add("", "x"), std::invalid_argument);
    CHECK_THROWS_AS(h.add("X-A:", "x"), std::invalid_argument);
    CHECK_THROWS_AS(h.add("X-A", "x\r\nInjected: 1"), std::invalid_argument);
    CHECK_THROWS_AS(h.set("X-A", std::string_view("x\0y", 3)), std::invalid_argument);
    CHECK_THROWS_AS(h.add("X-A", "x\ny"), std::invalid_argument);
    CHECK(h.empty());
    h.add("X-Tab", "a\tb");
    h.add("X-Utf8", "caf\xc3\xa9");
    CHECK(h.size() == 2);
}
