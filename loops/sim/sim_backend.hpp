// A virtual-time backend: poll() jumps the clock straight to the deadline, so
// timer-heavy scenarios and timer-ordering rules run deterministically and in
// no wall time (the approach of CPython's test_asyncio TestLoop). No I/O.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "loops/backend.hpp"
#include "loops/registry.hpp"

namespace loops::sim {

class SimBackend final : public Backend {
 public:
  // Where the virtual clock starts: a fixed, non-zero time, so that traces are
  // reproducible and no deadline can collide with kNoWait.
  static constexpr Nanos kEpoch = 1'000'000'000;

  const char* name() const noexcept override { return "sim"; }
  BackendTraits traits() const noexcept override {
    return {.real_time = false, .threads = false, .io = false};
  }
  Nanos now() noexcept override { return clock_.load(std::memory_order_acquire); }
  // Never reports I/O: there is none to wait for in virtual time.
  void poll(Nanos deadline, IoBatch& batch) override;
  void wake() noexcept override;
  // Always throws std::system_error(ENOTSUP): virtual time cannot wait for I/O.
  void watch(int fd, unsigned events, std::uint32_t generation) override;

 private:
  std::atomic<Nanos> clock_{kEpoch};
  // Set by the first wake() since the last poll; later wake() calls are free.
  std::atomic<bool> wake_pending_{false};
  // Only for poll(kNoDeadline), which has nothing to advance to and must block.
  std::mutex mutex_;
  std::condition_variable woken_;
};

BackendEntry backend_entry();

}  // namespace loops::sim
