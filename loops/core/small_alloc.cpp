#include "loops/detail/small_alloc.hpp"

#include <array>
#include <new>
#include <utility>

namespace loops::detail {

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kPooled = false;
#else
constexpr bool kPooled = true;
#endif

// Classes of 16k + 8 bytes: glibc's malloc serves a request r from a chunk of
// round16(r + 8) bytes, so such a class fills its chunk exactly, where a
// class of 16k bytes would waste 8 of them and cost a chunk 16 bytes larger
// than a request of up to 16k - 8 needs (16 MB over a million task frames).
constexpr std::size_t kGranule = 16;
constexpr std::size_t kChunkHeader = 8;
constexpr std::size_t kClasses = 33;
constexpr std::size_t kLargestPooled = (kClasses - 1) * kGranule + kChunkHeader;  // 520
// What one thread may keep in its lists; beyond it, blocks go back to malloc.
constexpr std::size_t kMaxCachedBytes = std::size_t{128} << 20;
// What one size class may keep of that, so that a million coroutine frames
// freed at once cannot fill the lists and leave the next size's blocks
// (a callback chain's handles, say) to malloc.
constexpr std::size_t kMaxCachedBytesPerClass = kMaxCachedBytes / 2;

std::size_t class_of(std::size_t size) noexcept {
  return (size + kGranule - 1 - kChunkHeader) / kGranule;
}
std::size_t class_size(std::size_t index) noexcept {
  return index * kGranule + kChunkHeader;
}

struct FreeBlock {
  FreeBlock* next;
};

// Trivially destructible, so that it stays usable while other thread_local
// and static objects are destroyed: after the thread's Reaper has drained it,
// it refuses blocks and they go straight back to operator delete.
struct FreeLists {
  std::array<FreeBlock*, kClasses> heads;
  std::array<std::size_t, kClasses> class_bytes;
  std::size_t cached_bytes;
  bool closed;

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
    if (closed || cached_bytes + size > kMaxCachedBytes ||
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

  void release_all() noexcept {
    for (FreeBlock*& head : heads) {
      while (head != nullptr) ::operator delete(std::exchange(head, head->next));
    }
    class_bytes = {};
    cached_bytes = 0;
  }

  void drain() noexcept {
    release_all();
    closed = true;
  }
};

constinit thread_local FreeLists free_lists{};

// Gives a thread's cached blocks back when the thread exits.
struct Reaper {
  Reaper() noexcept {}  // User-provided, so first use runs (and registers) it.
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;
  ~Reaper() { free_lists.drain(); }
};
thread_local Reaper reaper;

}  // namespace

void* small_alloc(std::size_t size) {
  if (!kPooled || size > kLargestPooled) return ::operator new(size);
  const std::size_t index = class_of(size);
  if (void* block = free_lists.pop(index)) return block;
  return ::operator new(class_size(index));
}

void small_free(void* block, std::size_t size) noexcept {
  if (kPooled && size <= kLargestPooled) {
    static_cast<void>(&reaper);  // Constructs this thread's reaper on first use.
    if (free_lists.push(block, class_of(size))) return;
  }
  ::operator delete(block);
}

void small_alloc_release_cached() noexcept {
  free_lists.release_all();
}

}  // namespace loops::detail
