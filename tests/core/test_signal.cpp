// signal_set delivers signals through the loop; run() turns SIGINT into cancellation of
// the main task and then exits "killed by SIGINT". Real signals throughout: the SIGINT
// cases run in forked children, whose exit status and pipe output are checked.
#include "corio_test.hpp"
#include "helpers/fd_count.hpp"

#include <corio/thread_pool.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <string>

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;

// Results are awaited into locals before REQUIRE: g++ 12 evaluates a co_await written
// inside REQUIRE(...) three times (Catch2 v2 also feeds the expression to
// __builtin_constant_p).

namespace {

using test_support::open_fd_count;

bool blocked_in_this_thread(int signo) {
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, nullptr, &cur);
    return sigismember(&cur, signo) == 1;
}

// run() catches SIGINT with a handler of its own while it runs.
bool catches(int signo) {
    struct sigaction cur {};
    sigaction(signo, nullptr, &cur);
    return (cur.sa_flags & SA_SIGINFO) || (cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN);
}

// Catch2 installs its own SIGINT/SIGTERM handlers while a test runs; run() only takes
// SIGINT over from the default action, so these tests put the default back meanwhile.
struct default_action {
    int signo;
    struct sigaction saved {};
    explicit default_action(int s) : signo(s) {
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(signo, &dfl, &saved);
    }
    ~default_action() { sigaction(signo, &saved, nullptr); }
};

volatile sig_atomic_t handler_calls = 0;
extern "C" void count_signal(int) { handler_calls = handler_calls + 1; }

// A forked child running `body(write_fd)`; its return value is the exit code.
struct child {
    pid_t pid = -1;
    int fd = -1; // the read end of the child's marker pipe

    template <class Body>
    explicit child(Body body) {
        int p[2];
        REQUIRE(pipe(p) == 0);
        pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            int code = 99;
            try {
                code = body(p[1]);
            } catch (...) {
                code = 98;
            }
            _exit(code);
        }
        close(p[1]);
        fd = p[0];
    }
    ~child() {
        if (fd >= 0) close(fd);
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
    }

    // The next marker byte the child wrote, or 0 once it has exited.
    char marker() {
        char c = 0;
        ssize_t n;
        do n = read(fd, &c, 1);
        while (n < 0 && errno == EINTR);
        return n == 1 ? c : 0;
    }
    std::string rest() {
        std::string s;
        while (char c = marker()) s += c;
        return s;
    }
    int wait() {
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        pid = -1;
        return status;
    }
};

void put(int fd, char c) { (void)!write(fd, &c, 1); }

} // namespace

TEST_CASE("a signal raised before wait() is returned by it") {
    int got = corio::run([]() -> corio::task<int> {
        corio::signal_set sigs{SIGUSR1};
        REQUIRE(blocked_in_this_thread(SIGUSR1));
        raise(SIGUSR1);
        co_return co_await sigs.wait();
    }());
    REQUIRE(got == SIGUSR1);
}

TEST_CASE("a signal sent while a task waits reaches it through the loop") {
    int sent = 0;
    int got = corio::run([&]() -> corio::task<int> {
        corio::signal_set sigs{SIGUSR1, SIGUSR2};
        // Spawned coroutines take what they use as parameters: a lambda's captures die
        // with the temporary closure, before the task runs.
        auto sender = corio::spawn([](int* flag) -> corio::task<void> {
            co_await corio::sleep(5ms);
            *flag = 1;
            kill(getpid(), SIGUSR2); // process-directed, as from another process
        }(&sent));
        int s = co_await sigs.wait();
        REQUIRE(sent == 1);
        co_await sender;
        co_return s;
    }());
    REQUIRE(got == SIGUSR2);
}

TEST_CASE("every set watching a signal hears it; sets watching others do not") {
    corio::run([]() -> corio::task<void> {
        corio::signal_set a{SIGUSR1}, b{SIGUSR2}, c{SIGUSR1, SIGUSR2};
        auto sender = corio::spawn([]() -> corio::task<void> {
            co_await corio::sleep(2ms);
            raise(SIGUSR1);
            co_await corio::sleep(2ms);
            raise(SIGUSR2);
        }());
        auto [x, y, z1, z2] = co_await corio::gather(a.wait(), b.wait(), c.wait(), c.wait());
        REQUIRE(x == SIGUSR1);
        REQUIRE(y == SIGUSR2);
        REQUIRE(z1 == SIGUSR1);
        REQUIRE(z2 == SIGUSR2);
        co_await sender;
    }());
}

TEST_CASE("arrivals not yet waited for collapse into one, in order") {
    corio::run([]() -> corio::task<void> {
        corio::signal_set sigs{SIGUSR1, SIGUSR2};
        raise(SIGUSR2);
        int first = co_await sigs.wait(); // read from the kernel: now it is in no queue
        REQUIRE(first == SIGUSR2);
        raise(SIGUSR1);
        raise(SIGUSR1);
        int second = co_await sigs.wait();
        REQUIRE(second == SIGUSR1);
        REQUIRE_THROWS_AS(co_await corio::wait_for(sigs.wait(), 20ms), corio::timeout_error);
    }());
}

TEST_CASE("a cancelled wait loses nothing and the set stays usable") {
    corio::run([]() -> corio::task<void> {
        corio::signal_set sigs{SIGUSR1};
        REQUIRE_THROWS_AS(co_await corio::wait_for(sigs.wait(), 10ms), corio::timeout_error);
        raise(SIGUSR1);
        int got = co_await sigs.wait();
        REQUIRE(got == SIGUSR1);

        // Cancel the task that is reading the descriptor for everybody: another waiter
        // takes over and still hears its signal.
        corio::signal_set other{SIGUSR2};
        auto reader = corio::spawn(sigs.wait());
        co_await corio::sleep(0ms); // reader parks on the descriptor
        auto follower = corio::spawn(other.wait());
        co_await corio::sleep(0ms);
        reader.cancel();
        REQUIRE_THROWS_AS(co_await reader, corio::cancelled_error);
        raise(SIGUSR2);
        int heard = co_await follower;
        REQUIRE(heard == SIGUSR2);

        // A cancelled follower leaves the reader undisturbed.
        auto r2 = corio::spawn(sigs.wait());
        co_await corio::sleep(0ms);
        auto f2 = corio::spawn(other.wait());
        co_await corio::sleep(0ms);
        f2.cancel();
        REQUIRE_THROWS_AS(co_await f2, corio::cancelled_error);
        kill(getpid(), SIGUSR1);
        int r2_got = co_await r2;
        REQUIRE(r2_got == SIGUSR1);
    }());
}

TEST_CASE("a signal another set's wait reads first still wakes the task parked on the descriptor") {
    corio::run([]() -> corio::task<void> {
        corio::signal_set a{SIGUSR1}, b{SIGUSR2};
        auto reader = corio::spawn(a.wait());
        co_await corio::sleep(0ms); // `reader` parks on the descriptor
        raise(SIGUSR1);
        // b's wait reads the descriptor before the reactor reports it: the kernel has
        // nothing left to report, so only the set's own bookkeeping can wake `reader`.
        REQUIRE_THROWS_AS(co_await corio::wait_for(b.wait(), 10ms), corio::timeout_error);
        int got = co_await corio::wait_for(reader, 10s); // a lost wake-up fails, not hangs
        REQUIRE(got == SIGUSR1);
    }());
}

TEST_CASE("destroying a set restores the signal mask and discards unwaited arrivals") {
    REQUIRE_FALSE(blocked_in_this_thread(SIGUSR1));
    struct sigaction counting {}, saved{};
    counting.sa_handler = &count_signal;
    sigemptyset(&counting.sa_mask);
    sigaction(SIGUSR1, &counting, &saved);
    handler_calls = 0;

    corio::run([]() -> corio::task<void> {
        {
            corio::signal_set sigs{SIGUSR1};
            REQUIRE(blocked_in_this_thread(SIGUSR1));
            raise(SIGUSR1); // never waited for
        }
        REQUIRE_FALSE(blocked_in_this_thread(SIGUSR1));
        co_return;
    }());
    REQUIRE(handler_calls == 0);
    raise(SIGUSR1); // the program's own handler is in charge again
    REQUIRE(handler_calls == 1);
    sigaction(SIGUSR1, &saved, nullptr);

    // A signal the thread had blocked before stays blocked afterwards.
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &one, nullptr);
    corio::run([]() -> corio::task<void> {
        corio::signal_set sigs{SIGUSR2};
        raise(SIGUSR2);
        int got = co_await sigs.wait();
        REQUIRE(got == SIGUSR2);
    }());
    REQUIRE(blocked_in_this_thread(SIGUSR2));
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
}

TEST_CASE("a set hears a signal the process ignores, and leaves it ignored") {
    // A shell starts background jobs with SIGINT ignored; a program that asks for a
    // signal explicitly still gets it.
    struct sigaction ign {}, saved{};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGUSR2, &ign, &saved);
    int got = corio::run([]() -> corio::task<int> {
        corio::signal_set sigs{SIGUSR2};
        kill(getpid(), SIGUSR2);
        co_return co_await sigs.wait();
    }());
    REQUIRE(got == SIGUSR2);
    struct sigaction now {};
    sigaction(SIGUSR2, nullptr, &now);
    REQUIRE(now.sa_handler == SIG_IGN);
    raise(SIGUSR2); // still ignored: the test goes on
    sigaction(SIGUSR2, &saved, nullptr);
}

TEST_CASE("add and remove change what a set watches") {
    corio::run([]() -> corio::task<void> {
        corio::signal_set sigs;
        sigs.add(SIGUSR1);
        sigs.add(SIGUSR2);
        sigs.add(SIGUSR1);
        REQUIRE(sigs.signals().size() == 2);
        sigs.remove(SIGUSR1);
        REQUIRE_FALSE(sigs.contains(SIGUSR1));
        REQUIRE_FALSE(blocked_in_this_thread(SIGUSR1));
        raise(SIGUSR2);
        int got = co_await sigs.wait();
        REQUIRE(got == SIGUSR2);
    }());
}

TEST_CASE("signals that cannot be watched are rejected by name") {
    corio::run([]() -> corio::task<void> {
        REQUIRE_THROWS_AS(corio::signal_set({SIGKILL}), std::invalid_argument);
        REQUIRE_THROWS_AS(corio::signal_set({SIGSTOP}), std::invalid_argument);
        REQUIRE_THROWS_AS(corio::signal_set({0}), std::invalid_argument);
        REQUIRE_THROWS_AS(corio::signal_set({NSIG + 5}), std::invalid_argument);
        corio::signal_set ok{SIGUSR1};
        REQUIRE_THROWS_AS(ok.add(-1), std::invalid_argument);
        REQUIRE(ok.contains(SIGUSR1));
        co_return;
    }());
    REQUIRE_FALSE(blocked_in_this_thread(SIGUSR1));
}

TEST_CASE("run() watches SIGINT only while it runs, and only when asked and allowed") {
    default_action dfl(SIGINT);
    int fds = open_fd_count();
    REQUIRE_FALSE(catches(SIGINT));

    bool during = false;
    corio::run([&]() -> corio::task<void> {
        during = catches(SIGINT);
        co_return;
    }());
    REQUIRE(during);
    REQUIRE_FALSE(catches(SIGINT));
    REQUIRE(open_fd_count() == fds);

    corio::run(
        [&]() -> corio::task<void> {
            during = catches(SIGINT);
            co_return;
        }(),
        corio::run_options{.handle_sigint = false});
    REQUIRE_FALSE(during);

    {
        struct sigaction ign {}, prev{};
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        sigaction(SIGINT, &ign, &prev); // as in a shell's background job
        corio::run([&]() -> corio::task<void> {
            during = catches(SIGINT);
            co_return;
        }());
        sigaction(SIGINT, &prev, nullptr);
        REQUIRE_FALSE(during);
    }

    // A set the program makes for SIGINT takes it over (blocked) until the set goes.
    corio::run([&]() -> corio::task<void> {
        {
            corio::signal_set mine{SIGINT};
            during = blocked_in_this_thread(SIGINT);
            REQUIRE(during);
            raise(SIGINT);
            int got = co_await mine.wait();
            REQUIRE(got == SIGINT);
        }
        during = catches(SIGINT) && !blocked_in_this_thread(SIGINT); // run()'s is back
    }());
    REQUIRE(during);
    REQUIRE_FALSE(catches(SIGINT));
    REQUIRE_FALSE(blocked_in_this_thread(SIGINT));
    REQUIRE(open_fd_count() == fds);
}

TEST_CASE("SIGINT cancels main; once it unwinds the process dies of SIGINT") {
    child c([](int out) {
        signal(SIGINT, SIG_DFL);
        corio::run([out]() -> corio::task<void> {
            put(out, 'R');
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
                put(out, 'C'); // the cancellation handler ran
                throw;
            }
        }());
        put(out, 'X'); // not reached
        return 0;
    });
    REQUIRE(c.marker() == 'R');
    REQUIRE(kill(c.pid, SIGINT) == 0);
    REQUIRE(c.rest() == "C");
    int status = c.wait();
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGINT);
}

TEST_CASE("cleanup after SIGINT runs to completion before the process exits") {
    child c([](int out) {
        signal(SIGINT, SIG_DFL);
        corio::run([out]() -> corio::task<void> {
            auto helper = corio::spawn([](int fd) -> corio::task<void> {
                try {
                    co_await corio::sleep(1h);
                } catch (const corio::cancelled_error&) {
                    put(fd, 'h'); // a task main left running is cancelled by run()
                    throw;
                }
            }(out));
            put(out, 'R');
            bool cancelled = false;
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
                cancelled = true;
            }
            if (cancelled) {
                co_await corio::sleep(10ms); // asynchronous cleanup still works
                put(out, 'C');
                throw corio::cancelled_error();
            }
        }());
        return 0;
    });
    REQUIRE(c.marker() == 'R');
    kill(c.pid, SIGINT);
    REQUIRE(c.rest() == "Ch");
    int status = c.wait();
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGINT);
}

TEST_CASE("main that catches the SIGINT cancellation and returns makes run() return") {
    child c([](int out) {
        signal(SIGINT, SIG_DFL);
        int v = corio::run([out]() -> corio::task<int> {
            put(out, 'R');
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
                co_return 42;
            }
            co_return 0;
        }());
        put(out, 'D');
        return v == 42 ? 7 : 1;
    });
    REQUIRE(c.marker() == 'R');
    kill(c.pid, SIGINT);
    REQUIRE(c.rest() == "D");
    int status = c.wait();
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 7);
}

TEST_CASE("a second SIGINT while main unwinds kills at once") {
    child c([](int out) {
        signal(SIGINT, SIG_DFL);
        corio::run([out]() -> corio::task<void> {
            put(out, 'R');
            bool cancelled = false;
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
                cancelled = true;
            }
            if (cancelled) {
                put(out, 'C');
                co_await corio::sleep(1h); // a shutdown that hangs
            }
        }());
        put(out, 'X');
        return 0;
    });
    REQUIRE(c.marker() == 'R');
    kill(c.pid, SIGINT);
    REQUIRE(c.marker() == 'C');
    kill(c.pid, SIGINT);
    REQUIRE(c.rest().empty());
    int status = c.wait();
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGINT);
}

TEST_CASE("a program waiting for SIGINT itself gets it instead of cancellation") {
    child c([](int out) {
        signal(SIGINT, SIG_DFL);
        return corio::run([out]() -> corio::task<int> {
            corio::signal_set sigs{SIGINT, SIGTERM};
            put(out, 'R');
            int s = co_await sigs.wait();
            co_await corio::sleep(1ms); // not cancelled
            co_return s == SIGINT ? 3 : 4;
        }());
    });
    REQUIRE(c.marker() == 'R');
    kill(c.pid, SIGINT);
    int status = c.wait();
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 3);
}

TEST_CASE("with handle_sigint off, SIGINT keeps its default action") {
    child c([](int out) {
        signal(SIGINT, SIG_DFL);
        corio::run(
            [out]() -> corio::task<void> {
                put(out, 'R');
                try {
                    co_await corio::sleep(1h);
                } catch (const corio::cancelled_error&) {
                    put(out, 'C');
                    throw;
                }
            }(),
            corio::run_options{.handle_sigint = false});
        return 0;
    });
    REQUIRE(c.marker() == 'R');
    kill(c.pid, SIGINT);
    REQUIRE(c.rest().empty()); // killed in place: no cancellation ran
    int status = c.wait();
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGINT);
}

TEST_CASE("worker threads never take a signal meant for the loop's watcher") {
    // The pool starts before the set exists, so only the pool's own mask can keep a
    // process-directed SIGTERM away from its threads.
    child c([](int out) {
        signal(SIGTERM, SIG_DFL);
        return corio::run([out]() -> corio::task<int> {
            int one = co_await corio::to_thread([] { return 1; });
            corio::signal_set sigs{SIGTERM};
            put(out, 'R');
            int s = co_await sigs.wait();
            co_return s == SIGTERM ? 4 + one : 1;
        }());
    });
    REQUIRE(c.marker() == 'R');
    kill(c.pid, SIGTERM);
    int status = c.wait();
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 5);
}
