// Pipes text through `sort` in a child process and prints what comes back: asyncio's
// create_subprocess_exec with stdin and stdout pipes, and communicate().
//   subprocess [--reverse] [--repeat N] [--sort PROGRAM] [WORD...]
// Each WORD (or, without any, a few fruit) becomes a line, repeated N times; the sorted
// lines go to stdout and the child's exit status to stderr. A PROGRAM that cannot be
// started is reported with its error and exit status 1.
#include "cli.hpp"

#include <corio/corio.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

corio::task<int> sort_lines(std::string program, std::vector<std::string> args, std::string text) {
    corio::subprocess_options options;
    options.stdin_mode = corio::stdio::pipe;
    options.stdout_mode = corio::stdio::pipe;
    corio::process child = co_await corio::create_subprocess_exec(program, args, options);
    auto [sorted, errors] = co_await child.communicate(text);
    std::fwrite(sorted.data(), 1, sorted.size(), stdout);
    std::fflush(stdout);
    int code = *child.returncode();
    std::fprintf(stderr, "%s exited with %d\n", program.c_str(), code);
    co_return code;
}

int main(int argc, char** argv) {
    bool reverse = false;
    long repeat = 1;
    std::string program = "sort";
    std::vector<std::string> words;
    cli::args args(argc, argv, "[--reverse] [--repeat N] [--sort PROGRAM] [WORD...]");
    while (const char* a = args.next()) {
        if (!std::strcmp(a, "--reverse"))
            reverse = true;
        else if (!std::strcmp(a, "--repeat"))
            repeat = args.number(a, 1, 100'000);
        else if (!std::strcmp(a, "--sort"))
            program = args.value(a);
        else if (a[0] == '-' && a[1] != '\0')
            args.unknown(a);
        else
            words.push_back(a);
    }
    if (words.empty()) words = {"pear", "apple", "fig", "banana", "cherry"};
    std::string text;
    for (long i = 0; i < repeat; ++i)
        for (const std::string& w : words) text += w + "\n";
    std::vector<std::string> sort_args;
    if (reverse) sort_args.push_back("-r");
    try {
        int code = corio::run(sort_lines(program, sort_args, text));
        return code == 0 ? 0 : 1;
    } catch (const std::system_error& e) {
        std::fprintf(stderr, "subprocess: %s\n", e.what());
        return 1;
    }
}
