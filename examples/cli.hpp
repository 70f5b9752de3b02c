#pragma once
// Command-line handling shared by the examples, as users expect of command-line tools:
// --help prints the usage to stdout and exits 0; a malformed or out-of-range argument
// prints one line naming it, then the usage, to stderr and exits 2. Numbers are parsed
// strictly: "abc", "12x", "" and "-5" for a positive option are refused, not read as 0.
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace cli {

class args {
public:
    args(int argc, char** argv, const char* usage) : argc_(argc), argv_(argv), usage_(usage) {}

    // The next argument, or nullptr at the end. Handles --help itself.
    const char* next() {
        if (i_ >= argc_) return nullptr;
        const char* a = argv_[i_++];
        if (!std::strcmp(a, "--help") || !std::strcmp(a, "-h")) {
            std::printf("usage: %s %s\n", program(), usage_);
            std::exit(0);
        }
        return a;
    }

    // The value after `flag`.
    const char* value(const char* flag) {
        if (i_ >= argc_) fail(std::string(flag) + " needs a value");
        return argv_[i_++];
    }

    // The integer after `flag`, which must lie in [min, max].
    long number(const char* flag, long min, long max) {
        const char* text = value(flag);
        long v = 0;
        const char* end = text + std::strlen(text);
        auto [p, ec] = std::from_chars(text, end, v);
        if (ec != std::errc() || p != end || *text == '\0')
            fail(std::string(flag) + " takes a number, not '" + text + "'");
        if (v < min || v > max)
            fail(std::string(flag) + " must be between " + std::to_string(min) + " and " + std::to_string(max) +
                 ", not " + text);
        return v;
    }

    [[noreturn]] void fail(const std::string& why) const {
        std::fprintf(stderr, "%s: %s\nusage: %s %s\n", program(), why.c_str(), program(), usage_);
        std::exit(2);
    }
    [[noreturn]] void unknown(const char* arg) const { fail(std::string("unknown argument '") + arg + "'"); }

private:
    const char* program() const {
        const char* p = argc_ > 0 ? argv_[0] : "example";
        const char* slash = std::strrchr(p, '/');
        return slash ? slash + 1 : p;
    }

    int argc_;
    char** argv_;
    const char* usage_;
    int i_ = 1;
};

} // namespace cli
