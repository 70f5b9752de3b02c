#pragma once
// What the nodiscard snippets act on. They are only compiled (-fsyntax-only), never run:
// the declarations need no definitions.
#include <corio/corio.hpp>

#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace nodiscard_test {

corio::task<int> child();
corio::task<void> handle(corio::stream s);
int work(int x);
corio::task<void> group_body(corio::task_group& g);
corio::task<int> scoped_body(corio::timeout_scope& s);
bool ready();
extern corio::bounded_semaphore bsem;
extern corio::condition cond;
extern corio::barrier bar;
extern corio::lifo_queue<int> lq;
extern corio::priority_queue<int> pq;
extern corio::generator<int> gen;

// Every snippet is the body of this coroutine.
corio::task<void> body(corio::stream& s, corio::file& f, corio::event& e, corio::lock& l, corio::semaphore& sem,
                       corio::queue<int>& q, corio::task_handle<int>& h, corio::server& srv, corio::udp_socket& u,
                       corio::signal_set& sig, corio::http::client& http, corio::http::response& resp,
                       std::vector<corio::task<int>>& tasks, std::string& buf, corio::process& proc);

} // namespace nodiscard_test
