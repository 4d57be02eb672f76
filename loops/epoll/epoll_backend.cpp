#include "epoll_backend.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <system_error>

namespace loops::epoll {
namespace {

constexpr Nanos kNanosPerSecond = 1'000'000'000;
constexpr std::size_t kInitialBatch = 64;
constexpr std::size_t kMaxBatch = 4096;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

int checked(int result, const char* what) {
  if (result < 0) {
    throw_errno(what);
  }
  return result;
}

// epoll_event.data for a user descriptor: generation in the high half, fd in
// the low half. Our own descriptors use generation 0.
constexpr std::uint64_t kGenerationUnit = 0x1'0000'0000;

std::uint64_t tag(int fd, std::uint32_t generation) {
  return (generation * kGenerationUnit) | static_cast<std::uint32_t>(fd);
}

std::uint32_t interest(unsigned events) {
  std::uint32_t mask = 0;
  if ((events & kIoReadable) != 0) {
    mask |= EPOLLIN;
  }
  if ((events & kIoWritable) != 0) {
    mask |= EPOLLOUT;
  }
  return mask;
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
      ready_(kInitialBatch) {
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
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Nanos>(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
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

void EpollBackend::poll(Nanos deadline) {
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
    count = ::epoll_wait(epoll_.get(), ready_.data(), static_cast<int>(ready_.size()), timeout_ms);
  } while (count < 0 && errno == EINTR);  // a signal is not the deadline: keep waiting
  if (count < 0) {
    throw_errno("epoll_wait");
  }

  const bool full = static_cast<std::size_t>(count) == ready_.size();
  dispatch(count);
  // Level-triggered, so what did not fit is reported next time; grow so it fits.
  if (full && ready_.size() < kMaxBatch) {
    ready_.resize(ready_.size() * 2);
  }
}

void EpollBackend::dispatch(int count) {
  for (int i = 0; i < count; ++i) {
    const epoll_event ev = ready_[static_cast<std::size_t>(i)];
    const auto generation = static_cast<std::uint32_t>(ev.data.u64 / kGenerationUnit);
    const auto fd = static_cast<int>(static_cast<std::uint32_t>(ev.data.u64));

    if (generation == 0) {
      drain(fd);
      if (fd == timer_.get()) {
        armed_ = kNoDeadline;  // one-shot: the kernel has disarmed it
      } else {
        // Drain first, then clear: a wake() between the two finds the flag set
        // and skips its write, which is fine because this poll is returning.
        // The reverse order could swallow that write and lose the wake-up.
        wake_pending_.exchange(false, std::memory_order_acq_rel);
      }
      continue;
    }

    // Re-read the registration: an earlier handler in this batch may have
    // unwatched this fd or changed its interest.
    if (static_cast<std::size_t>(fd) >= watches_.size()) {
      continue;
    }
    const Watch watch = watches_[static_cast<std::size_t>(fd)];
    if (watch.handler == nullptr || watch.generation != generation) {
      continue;
    }

    unsigned ready = kIoNone;
    if ((ev.events & (EPOLLERR | EPOLLHUP)) != 0) {
      ready = kIoReadable | kIoWritable;
    } else {
      if ((ev.events & EPOLLIN) != 0) {
        ready |= kIoReadable;
      }
      if ((ev.events & EPOLLOUT) != 0) {
        ready |= kIoWritable;
      }
      ready &= watch.events;
    }
    if (ready != kIoNone) {
      watch.handler->on_io_ready(ready);
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

void EpollBackend::watch(int fd, unsigned events, IoHandler* handler) {
  if (fd < 0) {
    throw std::system_error(EBADF, std::generic_category(), "watch: negative fd");
  }
  if (fd == epoll_.get() || fd == timer_.get() || fd == wakeup_.get()) {
    throw std::system_error(EINVAL, std::generic_category(), "watch: backend-owned fd");
  }
  const auto index = static_cast<std::size_t>(fd);
  const bool watched = index < watches_.size() && watches_[index].handler != nullptr;

  if (events == kIoNone) {
    if (!watched) {
      return;
    }
    watches_[index] = Watch{};
    // EBADF/ENOENT: the fd was closed before being unwatched, and closing it
    // already removed it from the epoll set.
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr) < 0 && errno != EBADF &&
        errno != ENOENT) {
      throw_errno("epoll_ctl(DEL)");
    }
    return;
  }
  if (handler == nullptr) {
    throw std::system_error(EINVAL, std::generic_category(), "watch: null handler");
  }

  epoll_event ev{};
  ev.events = interest(events);
  if (watched) {
    Watch& current = watches_[index];
    if (current.events != events) {
      ev.data.u64 = tag(fd, current.generation);
      if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) < 0) {
        // ENOENT: the old fd was closed without unwatch and the number reused.
        if (errno != ENOENT) {
          throw_errno("epoll_ctl(MOD)");
        }
        current = Watch{};
        watch(fd, events, handler);
        return;
      }
      current.events = events;
    }
    current.handler = handler;
    return;
  }

  std::uint32_t generation = next_generation_++;
  if (generation == 0) {
    generation = next_generation_++;  // 0 marks our own fds
  }
  ev.data.u64 = tag(fd, generation);
  checked(::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev), "epoll_ctl(ADD)");
  if (index >= watches_.size()) {
    watches_.resize(index + 1);
  }
  watches_[index] = Watch{handler, events, generation};
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
