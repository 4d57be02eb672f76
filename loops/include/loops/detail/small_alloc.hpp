// Per-thread free lists for the core's small, short-lived objects: callback
// handles, futures and coroutine frames. A callback chain or a gather of small
// tasks allocates and frees one such object per step; a free-list pop or push
// costs a few instructions where malloc plus free cost over a hundred.
//
// Blocks are individually allocated with operator new, so a block freed on
// another thread simply joins that thread's list; each list is bounded and
// given back when its thread exits. Sanitizer builds bypass the lists, so that
// AddressSanitizer still sees every use after free.
#pragma once

#include <cstddef>

namespace loops::detail {

void* small_alloc(std::size_t size);
void small_free(void* block, std::size_t size) noexcept;
// Gives the calling thread's cached blocks back to operator delete; its lists
// go on caching. For a benchmark harness that wants each case to start from
// the same state, whatever ran before it.
void small_alloc_release_cached() noexcept;

}  // namespace loops::detail
