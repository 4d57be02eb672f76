#include "epoll_backend.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "loops/detail/posix.hpp"

namespace loops::epoll {
namespace {

using detail::throw_errno;

constexpr Nanos kNanosPerSecond = 1'000'000'000;
constexpr std::size_t kInitialBatch = 64;
constexpr std::size_t kMaxBatch = 4096;

int checked(int result, const char* what) {
  if (result < 0) {
    throw_errno(errno, what);
  }
  return result;
}

// epoll_event.data for a user descriptor: generation in the high half, fd in
// the low half. Our own descriptors use generation 0, which the core never
// hands out.
constexpr std::uint64_t kGenerationUnit = 0x1'0000'0000;

std::uint64_t tag(int fd, std::uint32_t generation) {
  return (generation * kGenerationUnit) | static_cast<std::uint32_t>(fd);
}

std::uint32_t interest(unsigned events) {
  return detail::to_engine_events(events, EPOLLIN, EPOLLOUT);
}

// Reads and discards the 8-byte counter of an eventfd or timerfd. EAGAIN is
// fine: a timer re-armed since it was reported has nothing to read.
void drain(int fd) noexcept {
  std::uint64_t value = 0;
  while (::read(fd, &value, sizeof value) < 0 && errno == EINTR) {
  }
}

}  // namespace

EpollBackend::Fd::~Fd() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

EpollBackend::EpollBackend()
    : epoll_(checked(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1")),
      timer_(
          checked(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), "timerfd_create")),
      wakeup_(checked(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd")),
      events_(kInitialBatch) {
  for (const int fd : {timer_.get(), wakeup_.get()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag(fd, 0);
    checked(::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev), "epoll_ctl(ADD)");
  }
}

// Out of line: epoll_event is incomplete in the header.
EpollBackend::~EpollBackend() = default;

Nanos EpollBackend::now() noexcept {
  return detail::read_clock(CLOCK_MONOTONIC);
}

void EpollBackend::arm_timer(Nanos deadline) {
  if (deadline == armed_) {
    return;
  }
  itimerspec spec{};  // all zero disarms
  if (deadline != kNoDeadline) {
    spec.it_value.tv_sec = static_cast<time_t>(deadline / kNanosPerSecond);
    spec.it_value.tv_nsec = static_cast<long>(deadline % kNanosPerSecond);
  }
  checked(::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr), "timerfd_settime");
  armed_ = deadline;
}

void EpollBackend::poll(Nanos deadline, IoBatch& batch) {
  int timeout_ms = -1;  // the timerfd (or a wake-up) ends the wait
  if (deadline != kNoDeadline && deadline <= now()) {
    // Leave the timer alone: it is either disarmed or set for a later poll's
    // deadline, and re-arming it here would only cost a syscall.
    timeout_ms = 0;
  } else {
    arm_timer(deadline);
  }

  int count = 0;
  do {
    count =
        ::epoll_wait(epoll_.get(), events_.data(), static_cast<int>(events_.size()), timeout_ms);
  } while (count < 0 && errno == EINTR);  // a signal is not the deadline: keep waiting
  if (count < 0) {
    throw_errno(errno, "epoll_wait");
  }

  const bool full = static_cast<std::size_t>(count) == events_.size();
  report(count, batch);
  // Level-triggered, so what did not fit is reported next time; grow so it fits.
  if (full && events_.size() < kMaxBatch) {
    events_.resize(events_.size() * 2);
  }
}

void EpollBackend::report(int count, IoBatch& batch) {
  for (int i = 0; i < count; ++i) {
    const epoll_event ev = events_[static_cast<std::size_t>(i)];
    const auto generation = static_cast<std::uint32_t>(ev.data.u64 / kGenerationUnit);
    const auto fd = static_cast<int>(static_cast<std::uint32_t>(ev.data.u64));
    if (generation != 0) {
      batch.ready.push_back(
          {fd, generation,
           detail::from_engine_events(ev.events, EPOLLIN, EPOLLOUT, EPOLLERR | EPOLLHUP)});
      continue;
    }
    drain(fd);
    if (fd == timer_.get()) {
      armed_ = kNoDeadline;  // one-shot: the kernel has disarmed it
    } else {
      // Drain first, then clear: a wake() between the two finds the flag set
      // and skips its write, which is fine because this poll is returning.
      // The reverse order could swallow that write and lose the wake-up.
      wake_pending_.exchange(false, std::memory_order_acq_rel);
    }
  }
}

void EpollBackend::wake() noexcept {
  if (wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    return;
  }
  const std::uint64_t one = 1;
  // Cannot fail otherwise: the counter is drained long before it could overflow.
  while (::write(wakeup_.get(), &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void EpollBackend::watch(int fd, unsigned events, std::uint32_t generation) {
  if (fd == epoll_.get() || fd == timer_.get() || fd == wakeup_.get()) {
    throw_errno(EINVAL, "watch: backend-owned fd");
  }
  if (events == kIoNone) {
    // EBADF/ENOENT: the fd was closed before being unwatched, and closing it
    // already removed it from the epoll set.
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr) < 0 && errno != EBADF &&
        errno != ENOENT) {
      throw_errno(errno, "epoll_ctl(DEL)");
    }
    return;
  }
  epoll_event ev{};
  ev.events = interest(events);
  ev.data.u64 = tag(fd, generation);
  // A registration the core already has changes its directions; a new one
  // (or one whose descriptor was closed without an unwatch, its number then
  // reused: ENOENT) is added.
  const auto index = static_cast<std::size_t>(fd);
  const bool known = index < generations_.size() && generations_[index] == generation;
  if (known && ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) == 0) {
    return;
  }
  if (known && errno != ENOENT) {
    throw_errno(errno, "epoll_ctl(MOD)");
  }
  checked(::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev), "epoll_ctl(ADD)");
  if (index >= generations_.size()) {
    generations_.resize(index + 1);
  }
  generations_[index] = generation;
}

BackendEntry backend_entry() {
  return BackendEntry{
      "epoll",
      "Linux epoll; timerfd with absolute ns deadlines, eventfd wake-ups",
      []() -> std::unique_ptr<Backend> { return std::make_unique<EpollBackend>(); },
      {},
  };
}

}  // namespace loops::epoll
