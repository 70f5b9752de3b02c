#pragma once
// Child processes, as asyncio's create_subprocess_exec / create_subprocess_shell.
//
//     corio::subprocess_options o;
//     o.stdin_mode = o.stdout_mode = corio::stdio::pipe;
//     corio::process p = co_await corio::create_subprocess_exec("sort", {}, o);
//     auto [out, err] = co_await p.communicate("b\na\n");   // out == "a\nb\n"
//     int code = co_await p.wait();                         // 0
//
// Each standard stream of the child is inherited, a pipe, /dev/null, or (stderr only) a
// copy of stdout. A pipe is a corio::stream on the parent's end (non-blocking, registered
// with the loop), with the whole read and write API: stdin_pipe() is written, and its
// write_eof() or close() gives the child EOF once the buffer is sent; stdout_pipe() and
// stderr_pipe() are read. The parent's ends are close-on-exec, as is every descriptor corio
// opens, and the child inherits only 0, 1 and 2 where the C library can close the rest.
//
// Reaping (subprocess/child_watcher.hpp): the loop reaps every child it started when it
// exits, through a pidfd or, where there is none, SIGCHLD, without blocking and without
// touching children it did not start. A process object destroyed while its child runs
// closes its pipes and leaves the child running; the loop still reaps it when it exits.
// When the loop ends, children still running are killed (SIGKILL) and reaped.
//
// Cancellation: cancelling wait() leaves the process running and its returncode for a
// later wait(); cancelling communicate() leaves it running too, with the bytes not yet
// read still in the pipes (or the streams' buffers) and stdin closed if it was reached.
#include <csignal>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "corio/gather.hpp"
#include "corio/loop.hpp"
#include "corio/net/stream.hpp"
#include "corio/platform/pipe_ops.hpp"
#include "corio/platform/process_ops.hpp"
#include "corio/subprocess/child_watcher.hpp"
#include "corio/task.hpp"

namespace corio {

/// Where a child's standard stream goes (asyncio.subprocess's None, PIPE, DEVNULL, STDOUT).
enum class stdio : unsigned char {
    inherit,   ///< the parent's own descriptor
    pipe,      ///< a pipe to the parent, read or written through the process's stream
    devnull,   ///< /dev/null
    to_stdout, ///< stderr only: wherever stdout goes
};

/// How to start a child. Defaults: the parent's stdio, directory and environment.
struct subprocess_options {
    stdio stdin_mode = stdio::inherit;
    stdio stdout_mode = stdio::inherit;
    stdio stderr_mode = stdio::inherit;
    /// The child's working directory; a relative program name is found after changing to it.
    std::optional<std::string> cwd;
    /// The child's whole environment as "NAME=value" entries (replacing the parent's). The
    /// program itself is still looked up in the parent's PATH.
    std::optional<std::vector<std::string>> env;
    /// readuntil/readline limit of the stdout and stderr pipes (asyncio's `limit`).
    std::size_t limit = default_stream_limit;
};

class process;

namespace detail {
process start_process(const std::string& program, const std::vector<std::string>& args,
                      const subprocess_options& options);

inline task<int> wait_child(std::shared_ptr<child_state> s) {
    while (!s->returncode) co_await s->exited.wait();
    co_return *s->returncode;
}

inline task<std::string> read_pipe_to_eof(stream& s) {
    if (!s.valid()) co_return std::string();
    co_return co_await s.read();
}
} // namespace detail

/// A child process started by create_subprocess_exec / create_subprocess_shell (asyncio's
/// asyncio.subprocess.Process). Movable. Destroying it closes the parent's pipe ends; the
/// child keeps running and is still reaped by the loop. Belongs to the loop it was started
/// on, and must outlive its pending communicate().
class process {
public:
    process() noexcept = default;
    process(process&&) noexcept = default;
    process& operator=(process&&) noexcept = default;

    bool valid() const noexcept { return state_ != nullptr; }
    int pid() const { return state().pid; }
    /// The exit code once the child has been reaped: minus the signal number when a signal
    /// ended it (-15 after terminate()); empty while it runs.
    std::optional<int> returncode() const { return state().returncode; }

    /// The parent's end of each pipe (an empty stream where that stdio is not a pipe).
    stream& stdin_pipe() noexcept { return in_; }
    stream& stdout_pipe() noexcept { return out_; }
    stream& stderr_pipe() noexcept { return err_; }

    /// Waits for the child to end and returns its returncode. Does not read the pipes: a
    /// child blocked writing a full pipe never ends, so read them (or use communicate()).
    /// Cancelling the wait leaves the child running; the next wait() still gets its code.
    /// Does not refer to the process object after it starts.
    task<int> wait() const { return detail::wait_child(state_ptr()); }

    /// Writes `input` to stdin and closes it, reads stdout and stderr to EOF at the same
    /// time (so neither pipe can fill up and stall the child), waits for the child to end
    /// and returns {stdout bytes, stderr bytes} ("" for a stream that is not a pipe). A
    /// child that stops reading its stdin early is not an error (the rest of the input is
    /// dropped). Throws std::logic_error for input without a stdin pipe. Cancelling it
    /// leaves the child running; bytes not yet returned stay in the pipes' buffers.
    task<std::pair<std::string, std::string>> communicate(std::string input = {});

    /// Sends `signo` to the child. Throws std::system_error (ESRCH) once the child has been
    /// reaped, as asyncio raises ProcessLookupError, since its pid may belong to another
    /// process by then; EINVAL for an invalid signal.
    void send_signal(int signo) {
        const detail::child_state& s = state();
        int err = s.returncode ? ESRCH : detail::signal_process(s.pid, signo);
        if (err)
            throw std::system_error(err, std::system_category(),
                                    "signal " + std::to_string(signo) + " to process " + std::to_string(s.pid));
    }
    /// SIGTERM.
    void terminate() { send_signal(SIGTERM); }
    /// SIGKILL.
    void kill() { send_signal(SIGKILL); }

private:
    friend process detail::start_process(const std::string&, const std::vector<std::string>&,
                                         const subprocess_options&);

    const detail::child_state& state() const {
        if (!state_) throw std::logic_error("corio: use of an empty (moved-from) process");
        return *state_;
    }
    std::shared_ptr<detail::child_state> state_ptr() const {
        (void)state();
        return state_;
    }

    std::shared_ptr<detail::child_state> state_;
    stream in_, out_, err_;
};

inline task<std::pair<std::string, std::string>> process::communicate(std::string input) {
    std::shared_ptr<detail::child_state> keep = state_ptr();
    if (in_.valid()) {
        if (!input.empty() && !in_.is_closing()) {
            try {
                in_.write(input); // what the pipe does not take now is sent in the background
            } catch (const std::system_error& e) {
                if (e.code().value() != EPIPE && e.code().value() != ECONNRESET) throw;
            }
        }
        in_.close();
    } else if (!input.empty()) {
        throw std::logic_error("corio: communicate() with input needs stdin_mode = stdio::pipe");
    }
    auto [out, err] = co_await gather(detail::read_pipe_to_eof(out_), detail::read_pipe_to_eof(err_));
    (void)co_await detail::wait_child(std::move(keep));
    co_return std::pair<std::string, std::string>(std::move(out), std::move(err));
}

namespace detail {

/// The descriptors one start uses; all close when it returns (the child has its copies).
struct stdio_plan {
    unique_fd child[3];
    stream parent[3];
};

inline void plan_stdio(stdio_plan& plan, int i, stdio mode, unique_fd& devnull) {
    if (mode == stdio::to_stdout && i != 2)
        throw std::invalid_argument("corio: stdio::to_stdout is only valid for stderr");
    if (mode == stdio::devnull) {
        if (!devnull) {
            int fd = open_devnull();
            if (fd < 0) throw_errno(-fd, "open /dev/null");
            devnull.reset(fd);
        }
    } else if (mode == stdio::pipe) {
        int fds[2];
        if (int e = make_pipe(fds)) throw_errno(e, "pipe");
        const bool child_reads = i == 0;
        unique_fd r(fds[0]), w(fds[1]);
        unique_fd& mine = child_reads ? w : r;
        if (int e = set_nonblocking(mine.get())) throw_errno(e, "fcntl(O_NONBLOCK)");
        plan.child[i] = std::move(child_reads ? r : w);
        auto core = std::make_shared<stream_core>(std::move(mine), child_reads ? pipe_end::write : pipe_end::read);
        plan.parent[i] = stream(std::move(core));
    }
}

inline process start_process(const std::string& program, const std::vector<std::string>& args,
                             const subprocess_options& o) {
    if (o.stdin_mode == stdio::to_stdout || o.stdout_mode == stdio::to_stdout)
        throw std::invalid_argument("corio: stdio::to_stdout is only valid for stderr");
    event_loop& loop = event_loop::current();
    child_watcher& watcher = loop.service<child_watcher>();

    stdio_plan plan;
    unique_fd devnull;
    const stdio modes[3] = {o.stdin_mode, o.stdout_mode, o.stderr_mode};
    for (int i = 0; i < 3; ++i) plan_stdio(plan, i, modes[i], devnull);

    std::vector<std::string> argv_text;
    argv_text.reserve(args.size() + 1);
    argv_text.push_back(program);
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    spawn_request req;
    for (std::string& a : argv_text) req.argv.push_back(a.data());
    req.argv.push_back(nullptr);
    std::vector<std::string> env_text;
    std::vector<char*> envp;
    if (o.env) {
        env_text = *o.env;
        for (std::string& e : env_text) envp.push_back(e.data());
        envp.push_back(nullptr);
        req.envp = envp.data();
    }
    if (o.cwd) req.cwd = o.cwd->c_str();
    for (int i = 0; i < 3; ++i) {
        if (modes[i] == stdio::pipe) req.stdio[i] = plan.child[i].get();
        else if (modes[i] == stdio::devnull) req.stdio[i] = devnull.get();
    }
    req.stderr_to_stdout = o.stderr_mode == stdio::to_stdout;

    auto state = std::make_shared<child_state>(0);
    const int pid = spawn_process(req); // throws: the pipes close with `plan`
    state->pid = pid;
    try {
        watcher.watch(state);
    } catch (...) { // cannot be watched: it must not become a zombie
        signal_process(pid, SIGKILL);
        reap_blocking(pid);
        throw;
    }
    process p;
    p.state_ = std::move(state);
    p.in_ = std::move(plan.parent[0]);
    p.out_ = std::move(plan.parent[1]);
    p.err_ = std::move(plan.parent[2]);
    if (p.out_) p.out_.set_limit(o.limit);
    if (p.err_) p.err_.set_limit(o.limit);
    return p;
}

} // namespace detail

/// Starts `program` with `args` (argv[1...]), looked up in PATH when it has no '/'
/// (asyncio's create_subprocess_exec). With g++ 12, pass the arguments as a named vector:
/// it rejects a braced list ({"-c", "x"}) inside an expression with co_await. Throws std::system_error when it cannot be started,
/// with the errno of the failed exec (ENOENT: "cannot run 'nosuch': No such file or
/// directory"), not as a child exiting with 127; std::invalid_argument for to_stdout
/// given to stdin or stdout. Cancelling it before it runs starts nothing; the start itself
/// does not wait.
inline task<process> create_subprocess_exec(std::string program, std::vector<std::string> args = {},
                                            subprocess_options options = {}) {
    co_return detail::start_process(program, args, options);
}

/// Runs `cmd` with /bin/sh -c (asyncio's create_subprocess_shell). A command the shell
/// cannot find ends the child with 127, as in asyncio; errors otherwise as
/// create_subprocess_exec.
inline task<process> create_subprocess_shell(std::string cmd, subprocess_options options = {}) {
    std::vector<std::string> args; // named: GCC 12 rejects a braced list in a coroutine's co_return
    args.push_back("-c");
    args.push_back(std::move(cmd));
    co_return detail::start_process("/bin/sh", args, options);
}

} // namespace corio
