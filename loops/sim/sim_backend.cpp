#include "sim_backend.hpp"

#include <cerrno>
#include <memory>

#include "loops/detail/posix.hpp"

namespace loops::sim {

void SimBackend::poll(Nanos deadline, IoBatch& /*batch*/) {
  if (wake_pending_.exchange(false, std::memory_order_acq_rel)) {
    return;
  }
  if (deadline != kNoDeadline) {
    // Only the loop thread advances the clock, so load-then-store cannot race.
    if (deadline > clock_.load(std::memory_order_relaxed)) {
      clock_.store(deadline, std::memory_order_release);
    }
    return;
  }
  std::unique_lock lock(mutex_);
  woken_.wait(lock, [this] { return wake_pending_.load(std::memory_order_acquire); });
  wake_pending_.exchange(false, std::memory_order_acq_rel);
}

void SimBackend::wake() noexcept {
  if (wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    return;
  }
  // Taking the mutex orders this notify after a poll that has checked the flag
  // and is about to wait, so the notification cannot fall between the two.
  { const std::lock_guard lock(mutex_); }
  woken_.notify_one();
}

void SimBackend::watch(int /*fd*/, unsigned /*events*/, std::uint32_t /*generation*/) {
  detail::throw_errno(ENOTSUP, "sim backend has no I/O");
}

BackendEntry backend_entry() {
  return BackendEntry{
      "sim",
      "Virtual time: poll() jumps the clock to the deadline; no I/O, single-threaded",
      []() -> std::unique_ptr<Backend> { return std::make_unique<SimBackend>(); },
      {},
  };
}

}  // namespace loops::sim
