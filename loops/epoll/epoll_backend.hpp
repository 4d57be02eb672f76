// The native Linux backend: epoll for readiness, one timerfd for the deadline,
// one eventfd for cross-thread wake-ups.
//
// The timerfd is armed with an absolute CLOCK_MONOTONIC deadline, the same clock
// now() reads, so poll() returns at the deadline with nanosecond resolution
// instead of epoll_wait's milliseconds: no early timers (SLEEP-02) and no
// busy-spinning on sub-millisecond deadlines (CB-TIME-08).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "loops/backend.hpp"
#include "loops/registry.hpp"

struct epoll_event;

namespace loops::epoll {

class EpollBackend final : public Backend {
 public:
  // Throws std::system_error when the kernel refuses a descriptor.
  EpollBackend();
  ~EpollBackend() override;
  EpollBackend(const EpollBackend&) = delete;
  EpollBackend& operator=(const EpollBackend&) = delete;

  const char* name() const noexcept override { return "epoll"; }
  Nanos now() noexcept override;
  void poll(Nanos deadline, IoBatch& batch) override;
  void wake() noexcept override;
  void watch(int fd, unsigned events, std::uint32_t generation) override;

 private:
  // Owns one descriptor; closes it on destruction.
  class Fd {
   public:
    explicit Fd(int fd) noexcept : fd_(fd) {}
    ~Fd();
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const noexcept { return fd_; }

   private:
    int fd_;
  };

  void arm_timer(Nanos deadline);
  void report(int count, IoBatch& batch);

  Fd epoll_;
  Fd timer_;
  Fd wakeup_;
  Nanos armed_ = kNoDeadline;  // the deadline the timerfd is set to
  // Indexed by fd: the generation of the registration last added to the
  // epoll set, so that watch() knows a change (MOD) from a new one (ADD).
  std::vector<std::uint32_t> generations_;
  std::vector<epoll_event> events_;  // epoll_wait's output
  // Set by the first wake() after a poll drained the eventfd; later wake()
  // calls see it set and skip the write.
  std::atomic<bool> wake_pending_{false};
};

BackendEntry backend_entry();

}  // namespace loops::epoll
