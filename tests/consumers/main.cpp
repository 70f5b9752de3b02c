#include <corio/corio.hpp>

corio::task<int> answer() { co_return 42; }

int main() { return corio::run(answer()) == 42 ? 0 : 1; }
