// Per-thread free lists for the core's small, short-lived objects: callback
// handles, futures and coroutine frames. A callback chain or a gather of small
// tasks allocates and frees one such object per step; a free-list pop or push
// costs a few instructions where malloc plus free cost over a hundred, so
// those two paths are inline here and everything else is in small_alloc.cpp.
//
// Blocks are individually allocated with operator new, so a block freed on
// another thread simply joins that thread's list; each list is bounded and
// given back when its thread exits. Sanitizer builds bypass the lists, so that
// AddressSanitizer still sees every use after free.
#pragma once

#include <array>
#include <cstddef>

namespace loops::detail {

// Gives the calling thread's cached blocks back to operator delete; its lists
// go on caching. For a benchmark harness that wants each case to start from
// the same state, whatever ran before it.
void small_alloc_release_cached() noexcept;

namespace small_alloc_internals {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kPooled = false;
#else
inline constexpr bool kPooled = true;
#endif

// Classes of 16k + 8 bytes: glibc's malloc serves a request r from a chunk of
// round16(r + 8) bytes, so such a class fills its chunk exactly, where a
// class of 16k bytes would waste 8 of them and cost a chunk 16 bytes larger
// than a request of up to 16k - 8 needs (16 MB over a million task frames).
inline constexpr std::size_t kGranule = 16;
inline constexpr std::size_t kChunkHeader = 8;
inline constexpr std::size_t kClasses = 33;
inline constexpr std::size_t kLargestPooled = (kClasses - 1) * kGranule + kChunkHeader;  // 520
// What one thread may keep in its lists; beyond it, blocks go back to malloc.
inline constexpr std::size_t kMaxCachedBytes = std::size_t{128} << 20;
// What one size class may keep of that, so that a million coroutine frames
// freed at once cannot fill the lists and leave the next size's blocks
// (a callback chain's handles, say) to malloc.
inline constexpr std::size_t kMaxCachedBytesPerClass = kMaxCachedBytes / 2;

constexpr std::size_t class_of(std::size_t size) noexcept {
  return (size + kGranule - 1 - kChunkHeader) / kGranule;
}
constexpr std::size_t class_size(std::size_t index) noexcept {
  return index * kGranule + kChunkHeader;
}

struct FreeBlock {
  FreeBlock* next;
};

// Trivially destructible, so that it stays usable while other thread_local
// and static objects are destroyed: once the exit hook has emptied it, it
// refuses blocks and they go straight back to operator delete.
struct FreeLists {
  std::array<FreeBlock*, kClasses> heads;
  std::array<std::size_t, kClasses> class_bytes;
  std::size_t cached_bytes;
  // Blocks are taken only while open: once this thread's exit hook, which
  // empties the lists and closes them, is registered (by free_uncached, on
  // the first refused push) and until it has run.
  enum class State : unsigned char { before_exit_hook, open, closed } state;

  void* pop(std::size_t index) noexcept {
    FreeBlock* block = heads[index];
    if (block == nullptr) return nullptr;
    heads[index] = block->next;
    class_bytes[index] -= class_size(index);
    cached_bytes -= class_size(index);
    return block;
  }

  bool push(void* raw, std::size_t index) noexcept {
    const std::size_t size = class_size(index);
    if (state != State::open || cached_bytes + size > kMaxCachedBytes ||
        class_bytes[index] + size > kMaxCachedBytesPerClass) {
      return false;
    }
    auto* block = static_cast<FreeBlock*>(raw);
    block->next = heads[index];
    heads[index] = block;
    class_bytes[index] += size;
    cached_bytes += size;
    return true;
  }
};

extern constinit thread_local FreeLists free_lists;

// The slow paths: an empty list, a full one, a large block.
void* allocate_uncached(std::size_t size);
void free_uncached(void* block, std::size_t size) noexcept;

}  // namespace small_alloc_internals

inline void* small_alloc(std::size_t size) {
  using namespace small_alloc_internals;
  if (kPooled && size <= kLargestPooled) {
    if (void* block = free_lists.pop(class_of(size))) return block;
  }
  return allocate_uncached(size);
}

inline void small_free(void* block, std::size_t size) noexcept {
  using namespace small_alloc_internals;
  if (kPooled && size <= kLargestPooled && free_lists.push(block, class_of(size))) return;
  free_uncached(block, size);
}

}  // namespace loops::detail
