// create_subprocess_exec / create_subprocess_shell: pipes as streams, exit codes and
// signals, start errors, cancellation, and reaping (pidfd and the SIGCHLD fallback)
// without zombies. Argument lists are named vectors: GCC 12 rejects a braced list in an
// expression with co_await.
#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "corio_test.hpp"
#include "helpers/fd_count.hpp"

using namespace std::chrono_literals;

extern char** environ;

namespace {

corio::subprocess_options pipes(bool in, bool out, bool err = false) {
    corio::subprocess_options o;
    if (in) o.stdin_mode = corio::stdio::pipe;
    if (out) o.stdout_mode = corio::stdio::pipe;
    if (err) o.stderr_mode = corio::stdio::pipe;
    return o;
}

corio::detail::child_watcher& watcher() {
    return corio::get_running_loop().service<corio::detail::child_watcher>();
}

// The state letter of /proc/<pid>/stat ('Z' for a zombie), or 0 when there is no such process.
char proc_state(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    if (close == std::string::npos || close + 2 >= text.size()) return 0;
    return text[close + 2];
}

// Children of this process that are zombies.
std::vector<int> our_zombies() {
    std::vector<int> out;
    DIR* d = ::opendir("/proc");
    REQUIRE(d);
    while (dirent* e = ::readdir(d)) {
        int pid = std::atoi(e->d_name);
        if (pid <= 0) continue;
        std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
        std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        auto close = text.rfind(')');
        if (close == std::string::npos) continue;
        char state = 0;
        int ppid = 0;
        if (std::sscanf(text.c_str() + close + 1, " %c %d", &state, &ppid) != 2) continue;
        if (ppid == ::getpid() && state == 'Z') out.push_back(pid);
    }
    ::closedir(d);
    return out;
}

// Waits (in loop turns, not by the clock) until the loop has reaped every child it started.
corio::task<void> until_all_reaped() {
    for (int i = 0; i < 100000 && watcher().live() > 0; ++i) co_await corio::sleep(1ms);
    REQUIRE(watcher().live() == 0);
}

bool alive(int pid) { return ::kill(pid, 0) == 0; }

template <class T>
corio::task<bool> ended_cancelled(corio::task_handle<T>& h) {
    try {
        (void)co_await h;
    } catch (const corio::cancelled_error&) {
        co_return true;
    }
    co_return false;
}

// Runs every subprocess test once with pidfds and once through SIGCHLD.
struct reaping_mode {
    explicit reaping_mode(bool sigchld) {
        if (sigchld) ::setenv("CORIO_SUBPROCESS_NO_PIDFD", "1", 1);
        else ::unsetenv("CORIO_SUBPROCESS_NO_PIDFD");
    }
    ~reaping_mode() { ::unsetenv("CORIO_SUBPROCESS_NO_PIDFD"); }
};

#define BOTH_REAPING_MODES()                                                                  \
    const bool sigchld_mode = GENERATE(false, true);                                          \
    reaping_mode mode_guard(sigchld_mode);                                                    \
    INFO((sigchld_mode ? "SIGCHLD reaping" : "pidfd reaping"))

} // namespace

TEST_CASE("subprocess: cat echoes through pipes, write_eof gives it EOF") {
    BOTH_REAPING_MODES();
    corio::run([&]() -> corio::task<void> {
        REQUIRE(watcher().uses_pidfd() == !sigchld_mode);
        corio::process p = co_await corio::create_subprocess_exec("cat", {}, pipes(true, true));
        REQUIRE(p.pid() > 0);
        REQUIRE_FALSE(p.returncode());
        p.stdin_pipe().write("hello\n");
        std::string line = co_await p.stdout_pipe().readline();
        REQUIRE(line == "hello\n");
        p.stdin_pipe().write("world");
        std::string more = co_await p.stdout_pipe().readexactly(5);
        REQUIRE(more == "world");
        p.stdin_pipe().write_eof();
        std::string rest = co_await p.stdout_pipe().read();
        REQUIRE(rest.empty());
        REQUIRE(p.stdout_pipe().at_eof());
        int code = co_await p.wait();
        REQUIRE(code == 0);
        REQUIRE(p.returncode() == 0);
        REQUIRE_FALSE(p.stderr_pipe().valid());
    }());
}

TEST_CASE("subprocess: a pipe end only goes one way") {
    corio::run([]() -> corio::task<void> {
        corio::process p = co_await corio::create_subprocess_exec("cat", {}, pipes(true, true));
        REQUIRE_THROWS_AS(p.stdout_pipe().write("x"), std::logic_error);
        std::string nothing = co_await p.stdin_pipe().read(10); // the write end reads as at EOF
        REQUIRE(nothing.empty());
        p.stdin_pipe().close();
        int code1 = co_await p.wait();
        REQUIRE(code1 == 0);
    }());
}

TEST_CASE("subprocess: communicate moves megabytes both ways without deadlock") {
    BOTH_REAPING_MODES();
    corio::run([]() -> corio::task<void> {
        // 8 MB out of head while 1 MB goes to stderr: both pipes must be drained at once.
        corio::process p = co_await corio::create_subprocess_shell(
            "head -c 8000000 /dev/zero; head -c 1000000 /dev/zero >&2", pipes(false, true, true));
        auto [out, err] = co_await p.communicate();
        REQUIRE(out.size() == 8000000);
        REQUIRE(err.size() == 1000000);
        REQUIRE(out.find_first_not_of('\0') == std::string::npos);
        REQUIRE(p.returncode() == 0);

        // 4 MB in through cat and back: writing and reading must overlap.
        std::string input;
        for (int i = 0; input.size() < 4'000'000; ++i) input += "line " + std::to_string(i) + "\n";
        corio::process c = co_await corio::create_subprocess_exec("cat", {}, pipes(true, true));
        auto [echo, none] = co_await c.communicate(input);
        REQUIRE(echo == input);
        REQUIRE(none.empty());
        REQUIRE(c.returncode() == 0);
    }());
}

TEST_CASE("subprocess: closing stdin gives the child EOF") {
    corio::run([]() -> corio::task<void> {
        std::vector<std::string> args1{"-c"};
        corio::process p = co_await corio::create_subprocess_exec("wc", args1, pipes(true, true));
        p.stdin_pipe().write("abcdef");
        p.stdin_pipe().close();
        std::string out = co_await p.stdout_pipe().read();
        REQUIRE(std::stoi(out) == 6);
        int code2 = co_await p.wait();
        REQUIRE(code2 == 0);
    }());
}

TEST_CASE("subprocess: exit codes, and minus the signal for a killed child") {
    BOTH_REAPING_MODES();
    corio::run([]() -> corio::task<void> {
        std::vector<std::string> args2{"-c", "exit 7"};
        corio::process a = co_await corio::create_subprocess_exec("sh", args2);
        int code3 = co_await a.wait();
        REQUIRE(code3 == 7);
        int code4 = co_await a.wait();
        REQUIRE(code4 == 7); // again: the code stays
        REQUIRE(a.returncode() == 7);

        std::vector<std::string> args3{"100"};
        corio::process t = co_await corio::create_subprocess_exec("sleep", args3);
        REQUIRE_FALSE(t.returncode());
        t.terminate();
        int code5 = co_await t.wait();
        REQUIRE(code5 == -SIGTERM);

        std::vector<std::string> args4{"100"};
        corio::process k = co_await corio::create_subprocess_exec("sleep", args4);
        k.kill();
        int code6 = co_await k.wait();
        REQUIRE(code6 == -SIGKILL);

        std::vector<std::string> args5{"100"};
        corio::process s = co_await corio::create_subprocess_exec("sleep", args5);
        s.send_signal(SIGINT);
        int code7 = co_await s.wait();
        REQUIRE(code7 == -SIGINT);
        // Reaped: its pid may be reused, so signalling it is refused (ProcessLookupError).
        try {
            s.kill();
            FAIL("kill() after the child was reaped must throw");
        } catch (const std::system_error& e) {
            REQUIRE(e.code().value() == ESRCH);
        }
    }());
}

TEST_CASE("subprocess: a program that cannot run throws from create_subprocess_exec") {
    int fds_before = test_support::open_fd_count();
    corio::run([]() -> corio::task<void> {
        try {
            std::vector<std::string> args6{"x"};
            (void)co_await corio::create_subprocess_exec("corio-no-such-program", args6, pipes(true, true, true));
            FAIL("a missing program must throw");
        } catch (const std::system_error& e) {
            REQUIRE(e.code().value() == ENOENT);
            REQUIRE(std::string(e.what()).find("corio-no-such-program") != std::string::npos);
        }
        try {
            corio::subprocess_options o;
            o.cwd = "/corio/no/such/directory";
            (void)co_await corio::create_subprocess_exec("true", {}, o);
            FAIL("a missing directory must throw");
        } catch (const std::system_error& e) {
            REQUIRE(e.code().value() == ENOENT);
        }
        try {
            corio::subprocess_options o;
            o.stdout_mode = corio::stdio::to_stdout;
            (void)co_await corio::create_subprocess_exec("true", {}, o);
            FAIL("to_stdout for stdout must throw");
        } catch (const std::invalid_argument&) {
        }
        REQUIRE(watcher().live() == 0);
    }());
    REQUIRE(test_support::open_fd_count() == fds_before); // the pipes were closed
    REQUIRE(our_zombies().empty());
}

TEST_CASE("subprocess: the shell form") {
    corio::run([]() -> corio::task<void> {
        corio::process p = co_await corio::create_subprocess_shell("echo $((6 * 7)) | tr 4 X", pipes(false, true));
        auto [out, err] = co_await p.communicate();
        REQUIRE(out == "X2\n");
        REQUIRE(err.empty());
        REQUIRE(p.returncode() == 0);
        corio::subprocess_options quiet;
        quiet.stderr_mode = corio::stdio::devnull;
        corio::process q = co_await corio::create_subprocess_shell("corio-no-such-command", quiet);
        int code8 = co_await q.wait();
        REQUIRE(code8 == 127); // the shell ran; the command did not
    }());
}

TEST_CASE("subprocess: stderr into stdout, and /dev/null") {
    corio::run([]() -> corio::task<void> {
        corio::subprocess_options o = pipes(false, true);
        o.stderr_mode = corio::stdio::to_stdout;
        corio::process p = co_await corio::create_subprocess_shell("echo out; echo err >&2", o);
        REQUIRE_FALSE(p.stderr_pipe().valid());
        auto [out, err] = co_await p.communicate();
        REQUIRE(out == "out\nerr\n");
        REQUIRE(err.empty());

        corio::subprocess_options n = pipes(false, true);
        n.stdin_mode = corio::stdio::devnull;
        corio::process c = co_await corio::create_subprocess_exec("cat", {}, n);
        auto [nothing, e2] = co_await c.communicate();
        REQUIRE(nothing.empty());
        REQUIRE(c.returncode() == 0);

        corio::subprocess_options d;
        d.stdout_mode = corio::stdio::devnull;
        std::vector<std::string> args7{"discarded"};
        corio::process e = co_await corio::create_subprocess_exec("echo", args7, d);
        REQUIRE_FALSE(e.stdout_pipe().valid());
        bool refused = false;
        try {
            (void)co_await e.communicate("input");
        } catch (const std::logic_error&) {
            refused = true; // no stdin pipe to write the input to
        }
        REQUIRE(refused);
        int code9 = co_await e.wait();
        REQUIRE(code9 == 0);
    }());
}

TEST_CASE("subprocess: env replaces the environment, cwd changes the directory") {
    corio::run([]() -> corio::task<void> {
        corio::subprocess_options o = pipes(false, true);
        o.env = std::vector<std::string>{"CORIO_A=1", "CORIO_B=two words"};
        corio::process p = co_await corio::create_subprocess_exec("env", {}, o);
        auto [out, err] = co_await p.communicate();
        REQUIRE(out == "CORIO_A=1\nCORIO_B=two words\n");

        corio::subprocess_options c = pipes(false, true);
        c.cwd = "/";
        corio::process q = co_await corio::create_subprocess_exec("pwd", {}, c);
        auto [dir, err2] = co_await q.communicate();
        REQUIRE(dir == "/\n");
    }());
}

TEST_CASE("subprocess: cancelling wait() leaves the child running") {
    BOTH_REAPING_MODES();
    corio::run([]() -> corio::task<void> {
        std::vector<std::string> args8{"100"};
        corio::process p = co_await corio::create_subprocess_exec("sleep", args8);
        auto h = corio::spawn(p.wait());
        for (int i = 0; i < 3; ++i) co_await corio::sleep(0s);
        REQUIRE_FALSE(h.done());
        REQUIRE(h.cancel());
        bool cancelled = co_await ended_cancelled(h);
        REQUIRE(cancelled);
        REQUIRE_FALSE(p.returncode());
        REQUIRE(alive(p.pid()));
        REQUIRE(proc_state(p.pid()) != 'Z');
        p.kill();
        int code10 = co_await p.wait();
        REQUIRE(code10 == -SIGKILL);
    }());
}

TEST_CASE("subprocess: cancelling communicate() leaves the child running, reads lose nothing") {
    corio::run([]() -> corio::task<void> {
        corio::process p = co_await corio::create_subprocess_exec("cat", {}, pipes(true, true));
        // A read cancelled while waiting takes nothing: the bytes are there for the next one.
        auto reader = corio::spawn(p.stdout_pipe().readexactly(6));
        for (int i = 0; i < 3; ++i) co_await corio::sleep(0s);
        REQUIRE(reader.cancel());
        bool reader_cancelled = co_await ended_cancelled(reader);
        REQUIRE(reader_cancelled);
        p.stdin_pipe().write("abc");
        std::string first = co_await p.stdout_pipe().readexactly(3);
        REQUIRE(first == "abc");

        // Cancelled while waiting for the EOF of stdout: the child keeps running.
        std::vector<std::string> args9{"100"};
        corio::process q = co_await corio::create_subprocess_exec("sleep", args9, pipes(false, true));
        auto comm = corio::spawn(q.communicate());
        for (int i = 0; i < 3; ++i) co_await corio::sleep(0s);
        REQUIRE(comm.cancel());
        bool comm_cancelled = co_await ended_cancelled(comm);
        REQUIRE(comm_cancelled);
        REQUIRE_FALSE(q.returncode());
        REQUIRE(alive(q.pid()));
        q.terminate();
        auto [out, err] = co_await q.communicate(); // usable again after the cancellation
        REQUIRE(out.empty());
        REQUIRE(q.returncode() == -SIGTERM);

        p.stdin_pipe().close();
        int code11 = co_await p.wait();
        REQUIRE(code11 == 0);
    }());
}

TEST_CASE("subprocess: writing to a child that has gone fails with EPIPE, not SIGPIPE") {
    corio::run([]() -> corio::task<void> {
        corio::process p = co_await corio::create_subprocess_exec("true", {}, pipes(true, false));
        int code12 = co_await p.wait();
        REQUIRE(code12 == 0);
        std::string big(1 << 20, 'x');
        try {
            p.stdin_pipe().write(big);
            co_await p.stdin_pipe().drain();
            FAIL("writing to a pipe nobody reads must fail");
        } catch (const std::system_error& e) {
            REQUIRE(e.code().value() == EPIPE);
            REQUIRE(std::string(e.what()).find("write to pipe") != std::string::npos);
        }
        sigset_t pending;
        sigemptyset(&pending);
        ::sigpending(&pending);
        REQUIRE(sigismember(&pending, SIGPIPE) == 0); // the instance the write raised was consumed

        // communicate() ignores a child that does not read its input, as asyncio does.
        corio::process q = co_await corio::create_subprocess_exec("true", {}, pipes(true, true));
        auto [out, err] = co_await q.communicate(big);
        REQUIRE(out.empty());
        REQUIRE(q.returncode() == 0);
    }());
}

TEST_CASE("subprocess: a process destroyed while its child runs leaves no zombie") {
    BOTH_REAPING_MODES();
    int running_pid = 0;
    corio::run([&]() -> corio::task<void> {
        int pid = 0;
        {
            // cat ends once its stdin (closed with the process object) reaches EOF.
            corio::subprocess_options o = pipes(true, false);
            o.stdout_mode = corio::stdio::devnull;
            corio::process p = co_await corio::create_subprocess_exec("cat", {}, o);
            pid = p.pid();
        }
        co_await until_all_reaped();
        REQUIRE(proc_state(pid) == 0); // reaped: gone from /proc

        // Still running when the loop ends: killed and reaped then.
        std::vector<std::string> args10{"100"};
        corio::process s = co_await corio::create_subprocess_exec("sleep", args10);
        running_pid = s.pid();
        std::vector<std::string> args11{"100"};
        corio::process dropped = co_await corio::create_subprocess_exec("sleep", args11);
    }());
    REQUIRE(proc_state(running_pid) == 0);
    REQUIRE(our_zombies().empty());
}

TEST_CASE("subprocess: fifty concurrent children are all reaped") {
    BOTH_REAPING_MODES();
    corio::run([]() -> corio::task<void> {
        std::vector<corio::process> ps;
        for (int i = 0; i < 50; ++i) {
            std::vector<std::string> args12{"-c", "exit " + std::to_string(i % 5)};
            corio::process p = co_await corio::create_subprocess_exec("sh", args12);
            ps.push_back(std::move(p));
        }
        std::vector<corio::task<int>> waits;
        for (auto& p : ps) waits.push_back(p.wait());
        std::vector<int> codes = co_await corio::gather(std::move(waits));
        for (int i = 0; i < 50; ++i) REQUIRE(codes[i] == i % 5);
        REQUIRE(watcher().live() == 0);
    }());
    REQUIRE(our_zombies().empty());
}

TEST_CASE("subprocess: SIGCHLD reaping leaves other children of the process alone") {
    reaping_mode mode(true);
    // A child corio did not start: only its starter may reap it.
    char sh[] = "sh", dash_c[] = "-c", cmd[] = "exit 5";
    char* argv[] = {sh, dash_c, cmd, nullptr};
    pid_t foreign = 0;
    REQUIRE(::posix_spawnp(&foreign, "sh", nullptr, nullptr, argv, environ) == 0);
    corio::run([]() -> corio::task<void> {
        REQUIRE_FALSE(watcher().uses_pidfd());
        std::vector<std::string> args13{"-c", "exit 3"};
        corio::process p = co_await corio::create_subprocess_exec("sh", args13);
        int code13 = co_await p.wait();
        REQUIRE(code13 == 3);
        corio::process q = co_await corio::create_subprocess_exec("true");
        int code14 = co_await q.wait();
        REQUIRE(code14 == 0);
    }());
    int status = 0;
    REQUIRE(::waitpid(foreign, &status, 0) == foreign); // still ours to reap
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 5);
}

TEST_CASE("subprocess: the child starts with no signal blocked") {
    corio::run([]() -> corio::task<void> {
        corio::signal_set sigs{SIGUSR1}; // blocked in the loop thread while watched
        std::vector<std::string> args14{"^SigBlk", "/proc/self/status"};
        corio::process p = co_await corio::create_subprocess_exec("grep", args14,
                                                                   pipes(false, true));
        auto [out, err] = co_await p.communicate();
        REQUIRE(out == "SigBlk:\t0000000000000000\n");
    }());
}
