// No descriptor of corio's reaches a child: with sockets, a listening server, an open
// file (through the worker pool, hence the `pool` label this file's name gives it), a
// signal descriptor and a child's pidfd and pipes all open, a child lists only its
// stdio. And every one of those descriptors is close-on-exec in the parent itself, which
// is what keeps them from children started by any other means (fork+exec, system()).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>

#include "corio_test.hpp"
#include "helpers/net_helpers.hpp"

namespace {

std::set<int> open_fds() {
    std::set<int> out;
    DIR* d = ::opendir("/proc/self/fd");
    REQUIRE(d);
    const int own = ::dirfd(d);
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        int fd = std::atoi(e->d_name);
        if (fd != own) out.insert(fd);
    }
    ::closedir(d);
    return out;
}

} // namespace

TEST_CASE("subprocess: a child inherits only its stdio, and corio opens everything close-on-exec") {
    const std::set<int> before = open_fds();
    char path[] = "/tmp/corio_fds_XXXXXX";
    int tmp = ::mkstemp(path);
    REQUIRE(tmp >= 0);
    ::close(tmp);
    corio::run([&]() -> corio::task<void> {
        net_test::stream_pair pair = co_await net_test::connected_pair();
        corio::file f = co_await corio::open(path, "w");
        co_await f.write("x");
        corio::signal_set sigs{SIGUSR2};
        corio::subprocess_options o;
        o.stdin_mode = o.stdout_mode = o.stderr_mode = corio::stdio::pipe;
        corio::process cat = co_await corio::create_subprocess_exec("cat", {}, o);

        corio::subprocess_options ls_opts;
        ls_opts.stdout_mode = corio::stdio::pipe;
        std::vector<std::string> args{"/proc/self/fd"};
        corio::process ls = co_await corio::create_subprocess_exec("ls", args, ls_opts);
        auto [listing, err] = co_await ls.communicate();
        REQUIRE(ls.returncode() == 0);
        std::istringstream in(listing);
        std::set<int> child_fds;
        for (int fd; in >> fd;) child_fds.insert(fd);
        // 0, 1, 2 and the directory ls is reading.
        REQUIRE(child_fds.size() == 4);
        REQUIRE(child_fds.count(0) == 1);
        REQUIRE(child_fds.count(1) == 1);
        REQUIRE(child_fds.count(2) == 1);

        std::set<int> mine = open_fds();
        int checked = 0;
        for (int fd : mine) {
            if (before.count(fd)) continue;
            INFO("descriptor " << fd);
            REQUIRE((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
            ++checked;
        }
        // epoll, eventfd, listener, client, served, file, signalfd, three pipe ends, pidfd...
        REQUIRE(checked >= 11);

        cat.stdin_pipe().close();
        auto [out, cat_err] = co_await cat.communicate();
        REQUIRE(cat.returncode() == 0);
        co_await f.close();
    }());
    std::remove(path);
}
