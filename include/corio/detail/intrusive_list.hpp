#pragma once
// Doubly linked list of nodes that live elsewhere (usually in a coroutine frame), so
// queuing a waiter allocates nothing and unlinking a cancelled one is O(1).

namespace corio::detail {

struct list_hook {
    list_hook* prev = nullptr;
    list_hook* next = nullptr;
    bool linked() const noexcept { return prev != nullptr; }
};

template <class T> // T derives from list_hook
class intrusive_list {
public:
    intrusive_list() noexcept { head_.prev = head_.next = &head_; }
    intrusive_list(const intrusive_list&) = delete;
    intrusive_list& operator=(const intrusive_list&) = delete;

    bool empty() const noexcept { return head_.next == &head_; }
    T& front() noexcept { return static_cast<T&>(*head_.next); }

    void push_back(T& node) noexcept {
        list_hook* n = &node;
        n->prev = head_.prev;
        n->next = &head_;
        head_.prev->next = n;
        head_.prev = n;
    }
    static void erase(T& node) noexcept {
        list_hook* n = &node;
        n->prev->next = n->next;
        n->next->prev = n->prev;
        n->prev = n->next = nullptr;
    }
    T& pop_front() noexcept {
        T& n = front();
        erase(n);
        return n;
    }
    // Visits every node; f may unlink the node it is given.
    template <class F>
    void for_each(F&& f) {
        for (list_hook* n = head_.next; n != &head_;) {
            list_hook* next = n->next;
            f(static_cast<T&>(*n));
            n = next;
        }
    }

private:
    list_hook head_;
};

} // namespace corio::detail
