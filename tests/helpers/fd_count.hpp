#pragma once
// Open descriptors of this process: tests compare it before and after run() to prove
// nothing leaks.
#include <dirent.h>

namespace test_support {

inline int open_fd_count() {
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (::readdir(d)) ++n;
    ::closedir(d);
    return n - 3; // ".", ".." and the directory's own descriptor
}

} // namespace test_support
