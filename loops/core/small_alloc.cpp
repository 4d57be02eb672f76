#include "loops/detail/small_alloc.hpp"

#include <new>
#include <utility>

namespace loops::detail {

namespace small_alloc_internals {

constinit thread_local FreeLists free_lists{};

namespace {

void release_all(FreeLists& lists) noexcept {
  for (FreeBlock*& head : lists.heads) {
    while (head != nullptr) ::operator delete(std::exchange(head, head->next));
  }
  lists.class_bytes = {};
  lists.cached_bytes = 0;
}

// Gives a thread's cached blocks back when the thread exits.
struct ExitHook {
  ExitHook() noexcept {}  // User-provided, so first use runs (and registers) it.
  ExitHook(const ExitHook&) = delete;
  ExitHook& operator=(const ExitHook&) = delete;
  ~ExitHook() {
    release_all(free_lists);
    free_lists.state = FreeLists::State::closed;
  }
};
thread_local ExitHook exit_hook;

}  // namespace

void* allocate_uncached(std::size_t size) {
  if (kPooled && size <= kLargestPooled) return ::operator new(class_size(class_of(size)));
  return ::operator new(size);
}

void free_uncached(void* block, std::size_t size) noexcept {
  if (kPooled && size <= kLargestPooled && free_lists.state == FreeLists::State::before_exit_hook) {
    static_cast<void>(&exit_hook);  // Constructs, and so registers, this thread's hook.
    free_lists.state = FreeLists::State::open;
    if (free_lists.push(block, class_of(size))) return;
  }
  ::operator delete(block);
}

}  // namespace small_alloc_internals

void small_alloc_release_cached() noexcept {
  small_alloc_internals::release_all(small_alloc_internals::free_lists);
}

}  // namespace loops::detail
