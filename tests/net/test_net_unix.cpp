// Unix domain stream sockets: echo through start_unix_server/open_unix_connection, the
// socket file's life (stale file replaced, removed on close), abstract names, errors
// naming the path.
#define CORIO_COUNT_FRAMES 1
#include "corio_test.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <system_error>

#include <corio/net.hpp>

#include "helpers/net_helpers.hpp"

using corio::stream;
using corio::task;
using net_test::catch_as;

namespace {

using net_test::require_clean;

struct temp_dir {
    std::string path;
    temp_dir() {
        char tmpl[] = "/tmp/corio-unix-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~temp_dir() { ::rmdir(path.c_str()); }
};

bool exists(const std::string& p) {
    struct stat st{};
    return ::lstat(p.c_str(), &st) == 0;
}

// Leaves a socket file behind, as a crashed server would.
void make_stale_socket(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    path.copy(a.sun_path, sizeof a.sun_path - 1);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::close(fd);
}

} // namespace

TEST_CASE("Unix socket echo, addresses, and the socket file removed on close") {
    temp_dir dir;
    std::string path = dir.path + "/echo.sock";
    require_clean(net_test::run_checked([&path]() -> task<void> {
        auto srv = co_await corio::start_unix_server(net_test::echo, path);
        REQUIRE(exists(path));
        REQUIRE(srv.addresses().at(0).is_local());
        REQUIRE(srv.addresses().at(0).path() == path);

        std::vector<task<void>> clients;
        for (unsigned k = 0; k < 20; ++k)
            clients.push_back([](std::string path, unsigned k) -> task<void> {
                stream c = co_await corio::open_unix_connection(path);
                REQUIRE(c.peername().to_string() == path);
                std::string_view data = net_test::expected(k, 0, 256 * 1024);
                c.write(data);
                c.write_eof();
                std::string back = co_await c.read();
                REQUIRE(back == data);
            }(path, k));
        co_await corio::gather(std::move(clients));

        srv.close();
        co_await srv.wait_closed();
        REQUIRE_FALSE(exists(path));
        auto e = co_await catch_as<std::system_error>(corio::open_unix_connection(path));
        REQUIRE(e);
        REQUIRE(e->code().value() == ENOENT);
        REQUIRE(std::string(e->what()).find(path) != std::string::npos);
    }));
}

TEST_CASE("a stale socket file is replaced; a live one's path refuses connections once gone") {
    temp_dir dir;
    std::string path = dir.path + "/stale.sock";
    make_stale_socket(path);
    REQUIRE(exists(path));
    require_clean(net_test::run_checked([&path]() -> task<void> {
        auto e = co_await catch_as<std::system_error>(corio::open_unix_connection(path));
        REQUIRE(e);
        REQUIRE(e->code().value() == ECONNREFUSED);

        auto srv = co_await corio::start_unix_server(net_test::echo, path);
        auto c = co_await corio::open_unix_connection(path);
        c.write("fresh");
        REQUIRE_AWAIT_EQ(c.readexactly(5), "fresh");
    }));
    REQUIRE_FALSE(exists(path)); // the server's destructor closed it and removed the file
}

TEST_CASE("served Unix streams know the server's path; handlers see EOF and errors") {
    temp_dir dir;
    std::string path = dir.path + "/pair.sock";
    require_clean(net_test::run_checked([&path]() -> task<void> {
        auto q = std::make_shared<corio::queue<stream>>();
        auto handler = [q](stream s) { return net_test::hand_over(q, std::move(s)); };
        auto srv = co_await corio::start_unix_server(std::move(handler), path);
        auto client = co_await corio::open_unix_connection(path);
        auto served = co_await q->get();
        REQUIRE(served.sockname().path() == path);
        REQUIRE(served.peername().is_local());
        client.write("line one\nline two\n");
        REQUIRE_AWAIT_EQ(served.readline(), "line one\n");
        REQUIRE_AWAIT_EQ(served.readuntil("two"), "line two");
        client.close();
        REQUIRE_AWAIT_EQ(served.readline(), "\n");
        REQUIRE_AWAIT_EQ(served.readline(), "");
        REQUIRE(served.at_eof());
    }));
}

TEST_CASE("abstract Unix sockets and bad paths") {
    require_clean(net_test::run_checked([]() -> task<void> {
        std::string name = std::string(1, '\0') + "corio-test-" + std::to_string(::getpid());
        auto srv = co_await corio::start_unix_server(net_test::echo, name);
        REQUIRE(srv.addresses().at(0).to_string() == "@" + name.substr(1));
        auto c = co_await corio::open_unix_connection(name);
        c.write("abstract");
        REQUIRE_AWAIT_EQ(c.readexactly(8), "abstract");

        REQUIRE_AWAIT_THROWS(std::invalid_argument, corio::open_unix_connection(std::string(200, 'x')));
        REQUIRE_AWAIT_THROWS(std::invalid_argument, corio::open_unix_connection(""));
        auto e = co_await catch_as<std::system_error>(
            corio::start_unix_server(net_test::echo, "/nonexistent-dir/x.sock"));
        REQUIRE(e);
        REQUIRE(std::string(e->what()).find("bind /nonexistent-dir/x.sock") != std::string::npos);
    }));
}
