#include "libevent_backend.hpp"

#include <event2/event.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loops/detail/iteration_poll.hpp"
#include "loops/detail/posix.hpp"

namespace loops::libevent {

namespace {

constexpr Nanos kNanosPerMicro = 1'000;
constexpr Nanos kMicrosPerSecond = 1'000'000;

// EVENT_BASE_FLAG_PRECISE_TIMER: without it libevent 2.1 reads
// CLOCK_MONOTONIC_COARSE (one tick, up to 4 ms, behind ours) and epoll_wait
// waits in whole milliseconds; with it, CLOCK_MONOTONIC and a timerfd with the
// timeout in microseconds.
// EVENT_BASE_FLAG_IGNORE_ENV: the EVENT_NO* and EVENT_PRECISE_TIMER variables
// must not change the method or the clock behind the benchmark's back.
// EVENT_BASE_FLAG_NOLOCK: the base is only ever touched from the loop thread
// (wake() writes to an eventfd), so it needs no lock even if something else
// in the process calls evthread_use_pthreads().
constexpr int kBaseFlags =
    EVENT_BASE_FLAG_PRECISE_TIMER | EVENT_BASE_FLAG_IGNORE_ENV | EVENT_BASE_FLAG_NOLOCK;

struct FreeBase {
  void operator()(event_base* base) const noexcept { event_base_free(base); }
};
struct FreeEvent {
  void operator()(event* ev) const noexcept { event_free(ev); }
};
using BasePtr = std::unique_ptr<event_base, FreeBase>;
using EventPtr = std::unique_ptr<event, FreeEvent>;

// A new event_base with kBaseFlags; libevent's own choice of method (epoll).
BasePtr new_base() {
  event_config* config = event_config_new();
  if (config == nullptr) {
    detail::throw_errno(ENOMEM, "event_config_new");
  }
  event_config_set_flag(config, kBaseFlags);
  BasePtr base(event_base_new_with_config(config));
  event_config_free(config);
  if (base == nullptr) {
    // libevent says no more than that; running out of descriptors is the usual cause.
    detail::throw_errno(errno != 0 ? errno : ENOMEM, "event_base_new_with_config");
  }
  return base;
}

EventPtr new_event(event_base* base, evutil_socket_t fd, short events, event_callback_fn callback,
                   void* arg) {
  EventPtr ev(event_new(base, fd, events, callback, arg));
  if (ev == nullptr) {
    detail::throw_errno(ENOMEM, "event_new");
  }
  return ev;
}

class LibeventBackend final : public Backend {
 public:
  LibeventBackend();
  ~LibeventBackend() override;
  // libevent's events point back at this object: it never moves.
  LibeventBackend(const LibeventBackend&) = delete;
  LibeventBackend& operator=(const LibeventBackend&) = delete;

  const char* name() const noexcept override { return "libevent"; }
  Nanos now() noexcept override;
  void poll(Nanos deadline, IoBatch& batch) override;
  void wake() noexcept override;
  void watch(int fd, unsigned events, std::uint32_t generation) override;

 private:
  // One descriptor's persistent event, kept (deleted from the base) after an
  // unwatch so that watching the descriptor again allocates nothing.
  struct Watch {
    LibeventBackend* owner;
    EventPtr ev;
    std::uint32_t generation = 0;  // 0: not watched
  };

  template <class Engine>
  friend void detail::poll_by_iterations(Engine& engine, detail::IterationReport& report,
                                         Nanos deadline, IoBatch& batch);

  static void on_timer(evutil_socket_t fd, short what, void* arg);
  static void on_wakeup(evutil_socket_t fd, short what, void* arg);
  static void on_io(evutil_socket_t fd, short what, void* arg);

  void arm_timer(Nanos deadline);
  void disarm_timer();
  void run_iteration(bool block);
  void add(event* ev, const char* what);

  BasePtr base_;
  int wakeup_fd_;
  EventPtr wakeup_;
  EventPtr timer_;
  Nanos armed_ = kNoDeadline;                    // the deadline timer_ is pending for
  std::vector<std::unique_ptr<Watch>> watches_;  // indexed by descriptor
  // What libevent's callbacks found during the poll() under way.
  detail::IterationReport report_;
  // Set by the first wake() after a poll drained the eventfd; later wake()
  // calls see it set and skip the write.
  std::atomic<bool> wake_pending_{false};
};

LibeventBackend::LibeventBackend()
    : base_(new_base()), wakeup_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (wakeup_fd_ < 0) {
    detail::throw_errno(errno, "eventfd");
  }
  try {
    // The wake-up event stays added for the loop's whole life, so
    // event_base_loop() never finds the base without events and returns at
    // once: an idle poll(kNoDeadline) blocks until wake() or I/O (LOOP-RUN-01).
    wakeup_ = new_event(base_.get(), wakeup_fd_, EV_READ | EV_PERSIST, &on_wakeup, this);
    add(wakeup_.get(), "event_add(eventfd)");
    timer_ = new_event(base_.get(), -1, 0, &on_timer, this);
  } catch (...) {
    wakeup_.reset();
    ::close(wakeup_fd_);
    throw;
  }
}

LibeventBackend::~LibeventBackend() {
  // Events first (event_free deletes them from the base), then the eventfd;
  // base_ goes last and closes libevent's epoll, timerfd and signal pipe.
  watches_.clear();
  timer_.reset();
  wakeup_.reset();
  ::close(wakeup_fd_);
}

Nanos LibeventBackend::now() noexcept {
  // The precise clock, not event_base_gettimeofday_cached(): that one is
  // libevent's time as of the last iteration (CB-TIME-06).
  return detail::read_clock(CLOCK_MONOTONIC);
}

void LibeventBackend::add(event* ev, const char* what) {
  if (event_add(ev, nullptr) < 0) {
    detail::throw_errno(errno != 0 ? errno : EINVAL, what);
  }
}

void LibeventBackend::arm_timer(Nanos deadline) {
  if (deadline == armed_) {
    return;  // still pending for this deadline (on_timer resets armed_)
  }
  // evtimer_add() counts a relative timeval from libevent's clock, read then
  // (no time is cached outside event_base_loop()) and truncated to whole
  // microseconds, and the timer is due once that clock, truncated too,
  // reaches the sum. Read our clock first, so that libevent's is at or past
  // `start`; round the delay up to microseconds and add one for the
  // truncation of the reading: the timer is then due at or after `deadline`.
  const Nanos start = now();
  const Nanos micros = (deadline - start + kNanosPerMicro - 1) / kNanosPerMicro + 1;
  timeval delay{};
  delay.tv_sec = static_cast<time_t>(micros / kMicrosPerSecond);
  delay.tv_usec = static_cast<suseconds_t>(micros % kMicrosPerSecond);
  // Re-adding a pending timer replaces its timeout.
  if (evtimer_add(timer_.get(), &delay) < 0) {
    detail::throw_errno(errno != 0 ? errno : EINVAL, "evtimer_add");
  }
  armed_ = deadline;
}

void LibeventBackend::disarm_timer() {
  if (armed_ != kNoDeadline) {
    evtimer_del(timer_.get());
    armed_ = kNoDeadline;
  }
}

void LibeventBackend::poll(Nanos deadline, IoBatch& batch) {
  detail::poll_by_iterations(*this, report_, deadline, batch);
}

void LibeventBackend::run_iteration(bool block) {
  // EVLOOP_ONCE blocks until an event is active, runs the active callbacks
  // and returns; with EVLOOP_NONBLOCK it looks without blocking. Not
  // EVLOOP_NONBLOCK alone: that one returns only after an iteration that
  // found nothing, so a descriptor that stays ready (level-triggered) keeps
  // it running forever. Never event_base_loopbreak(): asyncio's stop() is
  // the core's.
  const int flags = block ? EVLOOP_ONCE : EVLOOP_ONCE | EVLOOP_NONBLOCK;
  if (event_base_loop(base_.get(), flags) < 0) {
    detail::throw_errno(errno != 0 ? errno : EIO, "event_base_loop");
  }
}

void LibeventBackend::wake() noexcept {
  if (wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    return;
  }
  const std::uint64_t one = 1;
  // Cannot fail otherwise: the counter is drained long before it could overflow.
  while (::write(wakeup_fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void LibeventBackend::watch(int fd, unsigned events, std::uint32_t generation) {
  const auto index = static_cast<std::size_t>(fd);
  Watch* watch = fd >= 0 && index < watches_.size() ? watches_[index].get() : nullptr;
  const auto le_events = static_cast<short>(detail::to_engine_events(events, EV_READ, EV_WRITE));
  if (le_events == 0) {
    if (watch != nullptr && watch->generation != 0) {
      // Deletes fd from the epoll set at once; a closed descriptor (EBADF)
      // is no error to libevent, closing it already removed it.
      event_del(watch->ev.get());
      watch->generation = 0;
    }
    return;
  }
  if (watch != nullptr && watch->generation == generation) {
    // The same registration with other directions: libevent has no call that
    // changes a pending event's, so delete it and add it back.
    if ((event_get_events(watch->ev.get()) & (EV_READ | EV_WRITE)) != le_events) {
      event_del(watch->ev.get());
      event_assign(watch->ev.get(), base_.get(), fd, static_cast<short>(le_events | EV_PERSIST),
                   &on_io, watch);
      add(watch->ev.get(), "watch: event_add");
    }
    return;
  }
  // A new registration. libevent's epoll backend would refuse a bad
  // descriptor or a file too, but with a warning on stderr and errno not
  // promised: check first what epoll refuses.
  detail::check_pollable(fd, "watch");
  if (watch == nullptr) {
    if (index >= watches_.size()) {
      watches_.resize(index + 1);
    }
    watches_[index] = std::make_unique<Watch>();
    watch = watches_[index].get();
    watch->owner = this;
    watch->ev =
        new_event(base_.get(), fd, static_cast<short>(le_events | EV_PERSIST), &on_io, watch);
  } else {
    // A watch left over from a previous registration of this descriptor
    // number (closed without an unwatch) is replaced: deleting it tells
    // libevent to drop the old file from the epoll set, if it is still there.
    event_del(watch->ev.get());
    watch->generation = 0;
    event_assign(watch->ev.get(), base_.get(), fd, static_cast<short>(le_events | EV_PERSIST),
                 &on_io, watch);
  }
  add(watch->ev.get(), "watch: event_add");
  watch->generation = generation;
}

void LibeventBackend::on_timer(evutil_socket_t /*fd*/, short /*what*/, void* arg) {
  // A one-shot timer is no longer pending; event_base_loop() returns after
  // this iteration and poll_by_iterations() checks now().
  static_cast<LibeventBackend*>(arg)->armed_ = kNoDeadline;
}

void LibeventBackend::on_wakeup(evutil_socket_t fd, short /*what*/, void* arg) {
  auto& self = *static_cast<LibeventBackend*>(arg);
  std::uint64_t count = 0;
  while (::read(fd, &count, sizeof count) < 0 && errno == EINTR) {
  }
  // Drain first, then clear: a wake() between the two finds the flag set and
  // skips its write, which is fine because this poll is returning. The
  // reverse order could swallow that write and lose the wake-up.
  self.wake_pending_.exchange(false, std::memory_order_acq_rel);
  self.report_.woken = true;
}

void LibeventBackend::on_io(evutil_socket_t fd, short what, void* arg) {
  const auto& watch = *static_cast<const Watch*>(arg);
  LibeventBackend& self = *watch.owner;
  // libevent's epoll backend reports an error or hang-up as every direction,
  // of which each event gets those it watches.
  const unsigned ready =
      detail::from_engine_events(static_cast<unsigned>(what), EV_READ, EV_WRITE, /*failed=*/0);
  if (ready != kIoNone) {
    self.report_.batch->ready.push_back({fd, watch.generation, ready});
    self.report_.reported = true;
  }
}

// False if this process's event_* calls reach Debian's libev.so, whose
// libevent 1.4 emulation defines the same names, instead of libevent (a build
// that linked libevent's shared library after libev's: see
// cmake/backends.cmake). Creating a base would then crash.
bool calls_reach_libevent() {
  return std::string_view(event_get_version()) == LIBEVENT_VERSION;
}

// The method libevent chooses for a base made with kBaseFlags.
std::string chosen_method() {
  try {
    return event_base_get_method(new_base().get());
  } catch (const std::system_error&) {
    return "unknown";
  }
}

}  // namespace

BackendEntry backend_entry() {
  BackendEntry entry;
  entry.name = "libevent";
  entry.description = std::string("libevent ") + LIBEVENT_VERSION + " (" +
                      (calls_reach_libevent() ? chosen_method() : "unlinked") +
                      "): evtimer deadlines (precise timer: CLOCK_MONOTONIC, timerfd waits in "
                      "us), eventfd wake-ups, persistent EV_READ/EV_WRITE readiness";
  entry.create = [] { return std::make_unique<LibeventBackend>(); };
  entry.unavailable_reason = []() -> std::optional<std::string> {
    if (calls_reach_libevent()) {
      return std::nullopt;
    }
    return std::string("event_* calls reach another library (event_get_version() says ") +
           event_get_version() + ", libev's emulation of libevent says its own version): " +
           "link libevent_core statically";
  };
  return entry;
}

}  // namespace loops::libevent
